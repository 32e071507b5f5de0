"""The ``sitewatch`` command: one click group, one module per command.

Each module in :data:`COMMAND_MODULES` exposes ``command`` (a click command
or group). Commands stay thin: parse options, call the library, print.
Library errors become ``click.ClickException`` here at the edge only.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import click

from .. import __version__
from ..config import SETTINGS, WORKSPACE_ENV, unknown_env
from .options import OnceGroup

__all__ = ["main", "COMMAND_MODULES"]

COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "store",
    "sites",
    "search",
    "fetch",
    "ingest",
    "import_",
    "observations",
    "show",
    "detect",
    "timeline",
    "links",
    "ais",
    "change",
    "claims",
    "eval",
    "report",
    "export",
    "serve",
    "alerts",
    "simulate",
    "demo",
    "detect_image",
    "score",
)
"""The command modules, in the order ``sitewatch --help`` lists them: the order a study runs them."""


class _PipelineGroup(OnceGroup):
    """The ``sitewatch`` group: its commands listed as added (:data:`COMMAND_MODULES`), not
    alphabetically as click lists them, which put ``demo`` first and ``init`` in the middle."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="sitewatch")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars, and only errors in the log (results are still printed).")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Satellite imagery as evidence about ports, naval piers and training grounds.

    The commands are listed in the order a study runs them: a workspace, its
    database and its sites; imagery in, and a look at what came in; detection, the timeline, links
    between sites, AIS matching, change between two images, claims checked against
    the imagery, the evaluation, the report, the export of detections, the
    dashboard and alerts. Then the simulator's two, and the two that work on one
    image outside a workspace.
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose == 0:
        # GDAL's remarks on a file's own CRS keys (e.g. EO Browser exports) repeat for every
        # band and window read and ask nothing of the user; -v shows them.
        logging.getLogger("rasterio._env").setLevel(logging.ERROR)
        # Likewise rasterio's NotGeoreferencedWarning: every command judges a missing
        # georeference itself and says what to do (--pixel-size, or the file is skipped
        # by name). Matched by message, so the group need not import rasterio.
        warnings.filterwarnings("ignore", message="Dataset has no geotransform")
        # urllib3 logs each retry of a refused or dropped connection; the command's own
        # error names the host and the reason once the retries are spent.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    for name in unknown_env():
        # Ignored, as every variable a program does not know is; said so, since a misspelt one
        # looks as if it applied.
        logging.getLogger("sitewatch.config").warning(
            "%s is set but is not a sitewatch setting, so it is not read; the variables are %s",
            name, ", ".join(sorted({s.env for s in SETTINGS} | {WORKSPACE_ENV})),
        )  # fmt: skip
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet
    ctx.obj["verbose"] = verbose


@contextmanager
def _quit_at_once_on_signals() -> Iterator[None]:
    """Ctrl-C or SIGTERM while the commands load (most of a second: numpy, scipy, rasterio) ends
    the process at once, saying so, with the exit code a running command gives (130, 143).

    Nothing is open yet to clean up. Without this, Ctrl-C printed a traceback from deep in an
    import (or an ImportError, numpy's word for an interrupted import, exit 1).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def quit_(signum: int, frame: object) -> None:
        sys.stderr.write("terminated\n" if signum == signal.SIGTERM else "interrupted\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    # A signal ignored (SIGINT in a shell's background job) stays ignored.
    previous = {
        sig: signal.signal(sig, quit_)
        for sig in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(sig) in (signal.default_int_handler, signal.SIG_DFL)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


with _quit_at_once_on_signals():
    for _name in COMMAND_MODULES:
        try:
            _module = importlib.import_module(f"{__name__}.{_name}")
        except ModuleNotFoundError as _exc:  # a command whose module is not written yet
            if _exc.name != f"{__name__}.{_name}":
                raise
            continue
        main.add_command(_module.command)
