"""``sitewatch serve``: the read-only web dashboard of one workspace."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ..web import DEFAULT_HOST, DEFAULT_PORT
from .options import (
    OnceCommand,
    ais_coverage_options,
    ais_files_option,
    ais_max_gap_option,
    handle_errors,
    refuse_max_gap_without_ais,
    stated_ais_coverage,
    workspace_option,
)


@click.command("serve", cls=OnceCommand, short_help="Serve a read-only web dashboard of the workspace.")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on; 0.0.0.0 shows the workspace and its images to every machine that can reach this one.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="Port to listen on.")
@click.option("--root-path", default="", metavar="PATH", envvar="SITEWATCH_ROOT_PATH",
              help="The path a reverse proxy serves the dashboard under (/sitewatch for https://desk.example/sitewatch/): "
                   "every link, image and form then starts with it. Env: SITEWATCH_ROOT_PATH. Default: none (the server's root).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None, envvar="SITEWATCH_TOKEN_FILE",
              help="Ask every reader for the access token on this file's first line (a browser signs in once; a script "
                   "sends `Authorization: Bearer TOKEN`). Env: SITEWATCH_TOKEN_FILE. Default: no token.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A name requests may be addressed to (their Host) besides localhost, 127.0.0.1 and ::1: a proxy's that "
                   "passes its own Host (desk.example), at its server's root or under --root-path; repeat for more. Listening on "
                   "localhost without --token-file, only those names are answered (a web page elsewhere cannot read the dashboard by having "
                   "its name point to this machine).")
@ais_files_option("AIS CSV file that settles the links page's links by MMSI (as `sitewatch links --ais`); repeat for more.")
@ais_coverage_options
@ais_max_gap_option
@workspace_option
@handle_errors
def command(
    host: str, port: int, root_path: str, token_file: Path | None, allowed_hosts: tuple[str, ...], ais_files: tuple[Path, ...], ais_coverage: Path | None,
    ais_period: tuple[datetime, datetime] | None, max_gap_min: float, workspace: Path,
) -> None:
    """Serve the dashboard of the workspace until Ctrl-C: sites, timelines, observations with
    quick-looks and detections, stored changes, alert events, links between
    sites, and a JSON API under /api/. Needs `pip install 'sitewatch[web]'`.

    Nothing is written to the workspace. It listens on localhost only unless --host says otherwise.
    """
    from ..errors import require_extra
    from ..web import create_app, serve_app
    from ..web.access import read_token_file

    require_extra("uvicorn", "web")
    coverage = stated_ais_coverage(ais_coverage, ais_period, ais_files)
    refuse_max_gap_without_ais(ais_files)
    # From a file, never the command line, where `ps` and the shell's history show it.
    token = read_token_file(token_file) if token_file is not None else None
    if token_file is not None and token_file.stat().st_mode & 0o077:
        click.echo(f"warning: the token file {token_file} can be read by other users of this machine: "
                   f"`chmod 600 {token_file}`", err=True)
    app = create_app(workspace, ais_files=ais_files, ais_coverage=coverage, ais_max_gap_s=max_gap_min * 60,
                     root_path=root_path, token=token, allowed_hosts=_answered_names(host, token, allowed_hosts))  # a missing extra or a workspace that is not one: said before anything listens
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can read the workspace "
                   "(--token-file asks for a token)", err=True)
    url_host = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed in a URL
    # Said once the port is known to be free: a busy one printed this URL first, another program's (another
    # workspace's dashboard), then the error.
    behind = f", behind a proxy at {app.state.dashboard.root}/" if app.state.dashboard.root else ""
    said = (f"sitewatch dashboard of {Path(workspace).expanduser().resolve()} at http://{url_host}:{port}/{behind} "
            "(Ctrl-C to stop)")
    # -q (a systemd service's, a cron job's): uvicorn's errors only, not a line for every page a colleague reads.
    quiet = bool((click.get_current_context().find_root().obj or {}).get("quiet"))
    serve_app(app, host, port, log_level="error" if quiet else "info", on_listening=lambda: click.echo(said))


def _answered_names(host: str, token: str | None, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    """The names the dashboard answers requests addressed to (None: any): this machine's and ``allowed`` when some are
    given; this machine's alone on localhost without a token (a reporter's own dashboard, which a web page could
    otherwise read by DNS rebinding); any name otherwise (on the network).

    A proxy's root path (``--root-path``) says where the dashboard's links start, not which names its requests carry:
    it turned the check off, so a dashboard behind a proxy on a reporter's laptop was open to DNS rebinding again.
    A proxy that passes on the upstream's name (nginx's default, ``127.0.0.1:8000``) is answered as before; one that
    passes its own (Caddy's) is named with ``--allowed-host``, at a sub-path as at its server's root."""
    from ..web.access import LOOPBACK_NAMES

    if allowed:
        return (*LOOPBACK_NAMES, *allowed, *((host,) if host not in ("0.0.0.0", "::") else ()))
    if host in LOOPBACK_NAMES and token is None:
        return LOOPBACK_NAMES
    return None
