"""The ``sitewatch`` command: one click group, one module per command.

Each module in :data:`COMMAND_MODULES` exposes ``command`` (a click command
or group). Commands stay thin: parse options, call the library, print.
Library errors become ``click.ClickException`` here at the edge only.
"""

from __future__ import annotations

import codecs
import importlib
import io
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from .. import __version__
from ..config import SETTINGS, WORKSPACE_ENV, unknown_env
from ..errors import STALL_LOGGER
from .options import OnceGroup
from .whole_writes import whole_writes_to_standard_output

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

__all__ = ["main", "COMMAND_MODULES", "all_commands", "command_name"]

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
    "verify",
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
    "change_image",
    "completion",
)
"""The command modules, in the order ``sitewatch --help`` lists them: the order a study runs them."""


def command_name(module: str) -> str:
    """The command a module of :data:`COMMAND_MODULES` gives: ``import_`` is ``import``,
    ``detect_image`` is ``detect-image``."""
    return module.rstrip("_").replace("_", "-")


class _PipelineGroup(OnceGroup):
    """The ``sitewatch`` group: its commands listed as :data:`COMMAND_MODULES` orders them, not
    alphabetically as click lists them, which put ``demo`` first and ``init`` in the middle.

    A command's module is imported when the command is asked for, not when the group is: each
    module imports the libraries its command needs (scipy.optimize, rasterio, pystac-client…),
    and importing all of them made every command, ``sitewatch timeline`` as well as
    ``sitewatch --version``, wait about 0.6 s for libraries it never used. ``--help`` imports them
    all, for each command's line.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [command_name(m) for m in COMMAND_MODULES]
        return names + [n for n in self.commands if n not in names]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = next((m for m in COMMAND_MODULES if command_name(m) == cmd_name), None)
            if module is not None:
                _load(module)
        return self.commands.get(cmd_name)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """The commands starting with ``incomplete`` (then the group's options), by name alone: click's
        own completion imports every matching command's module for its one line of help, and all of
        them at ``sitewatch <Tab>`` took about 2 s, too long for a Tab."""
        from click.shell_completion import CompletionItem

        names = [CompletionItem(n) for n in self.list_commands(ctx) if n.startswith(incomplete)]
        return names + click.Command.shell_complete(self, ctx, incomplete)


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
    dashboard and alerts. Then the simulator's two, and the three that work on
    image files outside a workspace. Last, the shell's completion of all of these.
    """
    _escape_what_the_output_cannot_encode()
    whole_writes_to_standard_output(ctx)
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # A command waiting on something outside it says so even under -q: a cron job would look hung.
    logging.getLogger(STALL_LOGGER).setLevel(logging.WARNING)
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


def _escape_what_the_output_cannot_encode() -> None:
    """A character standard output's encoding lacks is printed as its escape (``\\u03c3``), not a traceback
    after half the output. On Windows, output redirected to a file or a pipe (``sitewatch links > links.txt``)
    is in the ANSI code page, cp1252 on most machines, which lacks σ, ≥ and every Cyrillic or CJK site name;
    an ASCII locale lacks more. Standard error escapes already (Python's own default)."""
    out = sys.stdout
    if not isinstance(out, io.TextIOWrapper) or out.errors not in ("strict", "surrogateescape"):
        return
    try:
        if codecs.lookup(out.encoding).name != "utf-8":
            out.reconfigure(errors="backslashreplace")
    except (LookupError, ValueError, OSError):
        pass  # an encoding Python does not know, or a stream that cannot be reconfigured: as it was


@contextmanager
def _quit_at_once_on_signals() -> Iterator[None]:
    """Ctrl-C or SIGTERM while a command's module loads (up to most of a second: numpy, scipy,
    rasterio) ends the process at once, saying so, with the exit code a running command gives
    (130, 143).

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


def _load(module: str) -> None:
    with _quit_at_once_on_signals():
        main.add_command(importlib.import_module(f"{__name__}.{module}").command)


def all_commands() -> dict[str, click.Command]:
    """Every command of the group by name, their modules imported (for tests and documentation)."""
    for module in COMMAND_MODULES:
        if command_name(module) not in main.commands:
            _load(module)
    return dict(main.commands)
