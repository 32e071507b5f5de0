"""Options shared by several commands, declared once."""

from __future__ import annotations

import functools
import math
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from ..config import SAR_THERMAL_NOISE, WORKSPACE_ENV
from ..errors import NO_ROOM_TO_LOAD, InputError, SitewatchError, SitewatchWarning

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..analysis.ais_coverage import StatedCoverage
    from ..analysis.occupancy import TimelineParams
    from ..workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


COMPLETED_ARGS = "sitewatch.completed_args"
"""``ctx.meta`` key of the arguments a command was given while the shell completes its command line."""


class _OnceOptions:
    """Refuse an option given more than once where it takes one value.

    Click keeps the last of ``--max-cloud 30 --max-cloud 100`` without a word (and of
    ``-w a -w b``, ``--from`` twice...), so a value left earlier on a long command line is
    silently dropped. Options that take several values (``multiple``: ``--band``, ``--site``),
    counters (``-v -v``) and plain on/off flags, which mean the same however often given, may
    repeat; a ``--x/--no-x`` pair given both ways may not.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.resilient_parsing:
            # Shell completion: kept for a completer that needs the arguments click's resilient parse drops
            # (all of them when the word being completed is an option's value: see completers.py).
            ctx.meta[COMPLETED_ARGS] = list(args)
        _, _, order = self.make_parser(ctx).parse_args(args=list(args))  # type: ignore[attr-defined]
        seen: set[str] = set()
        for param in order:
            if not isinstance(param, click.Option) or param.multiple or param.count or param.is_eager:
                continue
            if param.is_flag and not param.secondary_opts:
                continue
            if param.name in seen:
                names = " / ".join([*param.opts, *param.secondary_opts])
                raise click.UsageError(f"{names} given more than once; it takes one value: give it once", ctx)
            seen.add(str(param.name))
        return super().parse_args(ctx, args)  # type: ignore[misc]


class OnceCommand(_OnceOptions, click.Command):
    """A command whose single-value options may be given once (see :class:`_OnceOptions`)."""


class OnceGroup(_OnceOptions, click.Group):
    """A group whose options, and its subcommands' single-value options, may be given once.

    Ctrl-C before a command's body has started (while click parses the arguments, or the group
    sets up logging) says "interrupted" and exits 130, as it does in the body (:func:`handle_errors`),
    not click's "Aborted!" with exit 1. SIGTERM then says "terminated" and exits 143, as in the body,
    rather than ending the process silently: :meth:`main`, the entry point, raises it as
    :class:`Terminated` from before click parses anything.
    """

    command_class = OnceCommand

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's entry point, with Ctrl-C and SIGTERM exiting 130 and 143 (:func:`interruption_exits`)."""
        with sigterm_raises(), interruption_exits():
            return super().main(*args, **kwargs)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        """click's argument parsing, with Ctrl-C exiting 130 (:func:`interruption_exits`), not "Aborted!"."""
        with interruption_exits():  # click's main turns a KeyboardInterrupt in here into "Aborted!"
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        """click's group body and subcommand call, with Ctrl-C exiting 130 (:func:`interruption_exits`)."""
        refuse_too_little_address_space()
        # The command's module is imported in here (the group's get_command), so an import with no room is said too.
        with interruption_exits(), errors_to_click():  # and in here: the group's own body, the command's arguments
            return super().invoke(ctx)


OnceGroup.group_class = OnceGroup


workspace_option = click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=WORKSPACE_ENV,
    default=Path("."),
    show_default=True,
    help="Workspace folder (made by `sitewatch init`). Env: SITEWATCH_WORKSPACE.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")

bom_option = click.option(
    "--bom", is_flag=True,
    help="Start the CSV with a UTF-8 byte-order mark (GDAL's WRITE_BOM), so that Excel on Windows shows non-ASCII "
         "names (Korean, Cyrillic) rightly; without it (the default) as QGIS, pandas and scripts read it.",
)  # fmt: skip
"""``--bom`` of every command that writes CSV (:func:`sitewatch.report.csv_types.with_bom`)."""


def all_rows_option(shown: str) -> Callable[[F], F]:
    """``--all``: a table on a terminal lists every row, not only ``shown`` ("the 20 latest links"); piped into a
    file or a program, and with ``--json``, every row is given anyway (:func:`~sitewatch.cli.output.rows_shown`)."""
    return click.option("--all", "show_all", is_flag=True,
                        help=f"On a terminal, list every row, not only {shown} (a file, a pipe and --json get every one).")  # fmt: skip

share_option = click.option(
    "--share", is_flag=True,
    help="Write it to hand on: paths inside the workspace relative to it, others by file name alone "
         "(the sha256 still identifies each file), so no user or local folder is named; the output says so.",
)  # fmt: skip


def ais_files_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    """``--ais FILE``, repeatable, into ``ais_files``: AIS CSV files that must exist; ``help`` says what
    the command does with them."""
    return click.option(
        "--ais",
        "ais_files",
        multiple=True,
        required=required,
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help=help,
    )


class AisPeriod(click.ParamType):
    """``--ais-period FROM/TO``: the period AIS files cover, read by
    :func:`~sitewatch.analysis.ais_coverage.parse_period` (a date alone as TO is its whole day)."""

    name = "period"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """(start, end), aware UTC; a bad value is a usage error naming it."""
        if isinstance(value, tuple):
            return value
        from ..analysis.ais_coverage import parse_period

        try:
            return parse_period(str(value))
        except SitewatchError as exc:
            self.fail(str(exc), param, ctx)


def ais_coverage_options(func: F) -> F:
    """``--ais-coverage AREA.geojson`` and ``--ais-period FROM/TO``, into ``ais_coverage`` and ``ais_period``:
    what the ``--ais`` files cover, as the user knows it (:func:`stated_ais_coverage` reads them)."""
    func = click.option(
        "--ais-period", "ais_period", type=AisPeriod(), default=None, metavar="FROM/TO",
        help="The period the --ais files cover (ISO 8601 UTC; a date alone as TO is its whole day), when known: "
             "images in it are matched even in hours without reports; others are not covered.",
    )(func)  # fmt: skip
    return click.option(
        "--ais-coverage", "ais_coverage", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
        metavar="AREA.geojson",
        help="The area the --ais files cover (a GeoJSON polygon, lon/lat), when known: sites touching it are "
             "covered even with no report near them; others are not (default: within 20 km of the files' positions).",
    )(func)  # fmt: skip


def ais_max_gap_option(func: F) -> F:
    """``--max-gap-min MIN`` into ``max_gap_min``: how far apart two AIS reports may be for a position between them
    (:attr:`~sitewatch.analysis.ais.AisParams.max_gap_s`), one option for `ais`, `links --ais` and `report --ais`,
    so that what `ais` matched with it `links` and `report` match the same way."""
    from ..analysis.ais import AisParams

    return click.option(
        "--max-gap-min", type=FiniteFloatRange(min=0), default=AisParams().max_gap_s / 60, show_default=True,
        metavar="MIN", help="Interpolate between two AIS reports only when they are at most this many minutes apart.",
    )(func)  # fmt: skip


def refuse_max_gap_without_ais(ais_files: Iterable[Path]) -> None:
    """``--max-gap-min`` given without ``--ais`` is refused (exit code 2), as ``--ais-coverage`` is: alone it would
    change nothing, silently."""
    source = click.get_current_context().get_parameter_source("max_gap_min")
    if not list(ais_files) and source not in (None, click.core.ParameterSource.DEFAULT):
        raise click.UsageError("--max-gap-min says how AIS reports are placed: give the AIS files too (--ais FILE)")


def stated_ais_coverage(
    area: Path | None, period: tuple[datetime, datetime] | None, ais_files: Iterable[Path]
) -> StatedCoverage | None:
    """The coverage ``--ais-coverage`` and ``--ais-period`` state, None without either; given without ``--ais``
    they are refused (exit code 2): they say what the AIS files cover."""
    if area is None and period is None:
        return None
    if not list(ais_files):
        given = " and ".join(o for o, v in (("--ais-coverage", area), ("--ais-period", period)) if v is not None)
        raise click.UsageError(f"{given} state what the --ais files cover: give the AIS files too (--ais FILE)")
    from ..analysis.ais_coverage import StatedCoverage, read_coverage_area

    return StatedCoverage(
        read_coverage_area(area) if area is not None else None, str(area) if area is not None else "",
        *(period if period is not None else (None, None)),
    )


workers_option = click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Worker processes (0: one per core; 1: in-process). Default: the `workers` setting (SITEWATCH_WORKERS).",
)
"""The ``workers`` setting as a flag, for every command whose jobs run through :func:`~sitewatch.run.map_jobs`
(``detect``, ``ingest``, ``import``): the advice after a worker died names it."""

scheduler_option = click.option(
    "--scheduler",
    help="Dask scheduler address (tcp://host:8786); needs sitewatch[dask]. Default: the `scheduler` setting "
    "(SITEWATCH_SCHEDULER), else local.",
)
"""The ``scheduler`` setting as a flag (``detect``, ``ingest``, ``import``): the commands whose jobs run through
:func:`~sitewatch.run.map_jobs`."""

wait_workers_option = click.option(
    "--wait-workers",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="With --scheduler: end with an error when no Dask worker has joined within SECONDS. Default: the "
    "`wait_workers` setting (SITEWATCH_WAIT_WORKERS), else wait until one does.",
)
"""The ``wait_workers`` setting as a flag (``detect``, ``ingest``, ``import``): a cron job's limit on a scheduler
no worker joins."""

thermal_noise_option = click.option(
    "--thermal-noise",
    type=click.Choice(SAR_THERMAL_NOISE),
    default=None,
    help="Sentinel-1 GRD product: keep its thermal noise in sigma0 (what the SAR detector was validated on) "
    "or subtract its noise LUT as SNAP's ThermalNoiseRemoval does. Default: SITEWATCH_SAR_THERMAL_NOISE "
    "(the sar_thermal_noise setting), else keep.",
)
"""The ``sar_thermal_noise`` setting as a flag, for a command that reads no workspace (``detect-image``)."""


def existing_folder(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: an output file's folder must exist (``-``, standard output, passes).

    Commands never make folders for their outputs: a typo in a path should not
    leave a stray tree behind, and the error names the folder before any work is done.
    """
    if value is None or str(value) == "-":
        return value
    if str(value) in ("", "."):  # '--out ""' (an unset "$OUT"), which a Path option reads as "."
        raise click.BadParameter("an empty name; name the file to write", ctx=ctx, param=param)
    folder = Path(value).parent
    if not folder.is_dir():
        why = "is a file, not a folder" if folder.exists() else "does not exist"
        raise click.BadParameter(f"{value}: folder {folder} {why}", ctx=ctx, param=param)
    return value


def geojson_out(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: an output file written as GeoJSON is named ``.geojson`` or ``.json`` (``-`` passes),
    in a folder that exists: GeoJSON text in a ``.kml`` or ``.csv`` is a file Google Earth or a spreadsheet
    cannot open."""
    value = existing_folder(ctx, param, value)
    if value is not None and str(value) != "-" and Path(value).suffix.lower() not in (".geojson", ".json"):
        raise click.BadParameter(f"{value}: written as GeoJSON; name the file .geojson (or .json)", ctx=ctx, param=param)
    return value


def named_out(what: str, suffixes: tuple[str, ...], hint: str = "") -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A Click callback: an output file written as ``what`` is named with one of ``suffixes``, in a folder
    that exists (``-``, standard output, and a device or pipe such as ``/dev/stdout`` pass).

    ``report --out report.pdf`` wrote HTML, and ``timeline --csv t.xlsx`` CSV, under names whose programs then
    refused to open them; ``hint`` says how to get the other format."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        value = existing_folder(ctx, param, value)
        if value is None or str(value) == "-" or Path(value).suffix.lower() in suffixes:
            return value
        if Path(value).exists() and not Path(value).is_file():
            return value
        names = " or ".join(suffixes)
        raise click.BadParameter(f"{value}: written as {what}; name the file {names}{hint}", ctx=ctx, param=param)

    return check


html_out = named_out("HTML", (".html", ".htm"), " (a browser opens it, and prints it to PDF)")
"""Click callback of ``report --out``: a ``.html`` (or ``.htm``) file."""


def sites_asked(store: Any, ids: list[str], *, every: bool = False) -> list[str]:
    """The sites a command of several sites runs on: ``ids`` when every one is in ``store`` (an unknown one is the
    error naming it and the nearest ids, raised before any site is worked on), or, none given, every site with
    observations (``every``: every site, for the commands that bring the observations in). Only the ids are
    read, not each site's area."""
    if not ids:
        if every:
            return [r[0] for r in store.execute("SELECT site_id FROM sites ORDER BY site_id")]
        return list(store.imaged_site_ids())
    known = {r[0] for r in store.execute("SELECT site_id FROM sites")}
    for sid in ids:
        if sid not in known:
            store.get_site(sid)  # the StoreError naming it
    return ids


def refuse_input_as_out(out: Path | None, inputs: Iterable[Path], option: str = "--out") -> None:
    """Refuse (exit 2) an ``--out`` file that is one of the command's own input files.

    The output would be written over the input the user meant to keep. Paths are
    compared resolved, so ``./x``, ``dir/../x`` and a symlink to the input are the same
    file; so is a hard link, by ``samefile``. ``-`` (standard output) passes.
    """
    if out is None or str(out) == "-":
        return
    for given in inputs:
        if _same_file(out, given):
            raise click.UsageError(
                f"{option} {out} is the input file {given}: writing there would overwrite it; choose another path"
            )


def refuse_workspace_file(ws: Workspace, outputs: Iterable[tuple[str, str | Path | None]]) -> None:
    """Refuse (exit 1) an output file, given as ``(option, path)``, that is the workspace's own database or
    its ``sitewatch.toml``: the file written would replace it (``report --out sitewatch.gpkg`` left a workspace
    of HTML). Paths are compared as :func:`refuse_input_as_out` compares them; None and ``-`` pass."""
    own = (("database", ws.db_path), ("settings file", ws.config_path))
    for option, out in outputs:
        if out is None or str(out) == "-":
            continue
        for what, path in own:
            if _same_file(Path(out), path):
                raise InputError(f"{option} {out} is the workspace's own {what} ({path.name}): writing there "
                                 "would replace it; give the output another name")  # fmt: skip


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


class ImagePath(click.Path):
    """``click.Path`` that passes a GDAL virtual path (``/vsizip//abs/a.zip/b.tif``) through as a
    string, unchecked: it names no file on disk, and ``Path`` would fold its double slash.
    The command's own open names it when GDAL cannot read it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """click's check of the path, skipped for a GDAL ``/vsi...`` path (returned as a string)."""
        if isinstance(value, str) and value.startswith("/vsi"):
            return value
        return super().convert(value, param, ctx)


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that refuses ``nan`` and infinities: NaN compares False with both
    bounds, so FloatRange lets it through (a NaN threshold would silently filter nothing), and
    ``inf`` passes any range open above (a pixel size of ``inf`` metres)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """click's range check, then a NaN or infinite value refused."""
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv

    def _describe_range(self) -> str:
        # click writes "[x<=None]" in --help for a range with neither bound.
        return "" if self.min is None and self.max is None else super()._describe_range()


@contextmanager
def errors_to_click() -> Iterator[None]:
    """Turn sitewatch errors into ClickException (exit code 1) with the message alone; an allocation
    that failed (:func:`out_of_memory`) likewise, saying so, rather than a traceback from deep in numpy."""
    try:
        yield
    except SitewatchError as exc:
        raise click.ClickException(str(exc)) from exc
    except MemoryError as exc:
        raise click.ClickException(out_of_memory(exc)) from exc
    except ImportError as exc:
        if not NO_ROOM_TO_LOAD.search(str(exc)):
            raise
        raise click.ClickException(out_of_memory(exc)) from exc


MIN_ADDRESS_SPACE = 400 * 2**20
"""The least address-space limit (``ulimit -v``) a command is started under. Below it numpy, scipy and GDAL
cannot all load, and scipy's OpenBLAS, finding no room for its threads' buffers as it loads, retries for ever
(a ``sitewatch timeline`` under 250 MiB spun for minutes, deaf to Ctrl-C and SIGTERM) rather than failing."""


def refuse_too_little_address_space() -> None:
    """Refuse at once, saying so, when the process's address space is limited below :data:`MIN_ADDRESS_SPACE`."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft < MIN_ADDRESS_SPACE:
        raise click.ClickException(
            f"out of memory: the address space is limited to {soft / 2**20:.0f} MiB (ulimit -v), and sitewatch needs "
            f"at least {MIN_ADDRESS_SPACE >> 20} MiB to load its numerical libraries; raise the limit (README, \"Memory\")"
        )


def out_of_memory(exc: BaseException) -> str:
    """The one line a command that ran out of memory ends with: what it could not allocate and what to do.

    A machine short of memory, or a limit on the process (``ulimit -v``, ``prlimit --as``, a container's),
    makes numpy raise MemoryError ("Unable to allocate 33.0 MiB for an array with shape (4, 1040, 1040)
    and data type float64") where the kernel would otherwise kill the process; it printed as a traceback.
    """
    ctx = click.get_current_context(silent=True)
    name = f"sitewatch {ctx.info_name}" if ctx is not None and ctx.parent is not None else "sitewatch"
    what = str(exc).strip().rstrip(".")
    what = f" ({what[0].lower()}{what[1:]})" if what else ""
    return (
        f"out of memory: {name} could not allocate what it needed{what}; close other programs, run fewer "
        "--workers, take a smaller site or image, or use a machine with more memory (README, \"Memory\")"
    )


INTERRUPTED_EXIT_CODE = 130
"""Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""

TERMINATED_EXIT_CODE = 143
"""Exit code after SIGTERM, as shells report a process ended by it (128 + 15)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``, ``timeout``, systemd, ``docker stop``), raised where the command is.

    A KeyboardInterrupt, so that everything that cleans up after Ctrl-C (rolled-back
    transactions, removed partial files, stopped worker processes) does so after SIGTERM too:
    by default Python dies on it at once, leaving its worker processes waiting for ever.
    """


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """sitewatch's own warnings printed as ``warning: MESSAGE`` lines on stderr, as the commands'
    other warnings are, rather than as Python's ``FILE:LINE: CLASS: MESSAGE`` and a line of source."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:  # fmt: skip
            if issubclass(category, SitewatchWarning):
                click.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


@contextmanager
def interruption_exits() -> Iterator[None]:
    """Ctrl-C (KeyboardInterrupt) prints "interrupted" and exits 130; SIGTERM, raised as
    :class:`Terminated` where :func:`handle_errors` runs, prints "terminated" and exits 143."""
    try:
        yield
    except Terminated:
        click.echo("terminated", err=True)
        raise SystemExit(TERMINATED_EXIT_CODE) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(INTERRUPTED_EXIT_CODE) from None


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raised as :class:`Terminated` where the main thread is, within the block; the
    handler before it is put back after, once :func:`interruption_exits` has said so."""
    # Signal handlers can only be set in the main thread (a test may invoke from another).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        yield
    finally:
        if main_thread and previous is not None:  # (None: a handler set outside Python, kept)
            signal.signal(signal.SIGTERM, previous)


def handle_errors(func: F) -> F:
    """Decorator form of :func:`errors_to_click`; Ctrl-C prints "interrupted" and exits 130,
    SIGTERM prints "terminated" and exits 143, each after the same clean-up.

    Click's own Ctrl-C handling says "Aborted!" and exits 1, which a script
    cannot tell from a failure.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Also here, not only in the group's entry point: a command invoked alone (a test, a plugin).
        with sigterm_raises(), interruption_exits(), errors_to_click():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def shown(bar: Progress) -> AbstractContextManager[Progress]:
    """``with shown(bar)``: the bar drawn, then cleared; a disabled one (off a terminal) never started, as rich
    before 14.3 stops even a disabled bar with an empty line where the output is no terminal (a log, a pipe)."""
    if bar.disable:
        return nullcontext(bar)
    return bar


@contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar as a ``progress(done, total, what)`` callback; silent when quiet."""
    if quiet:
        yield lambda done, total, what: None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)  # standard output holds the command's result alone
    with shown(Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[what]}"),
        transient=True,
        console=console,
        disable=not console.is_terminal,  # off a terminal a transient bar leaves an empty line behind
    )) as bar:
        task = bar.add_task(escape(label), total=None, what="")

        def update(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, what=escape(what))  # an item id or file name, not markup

        yield update


def is_quiet() -> bool:
    """True when the group was given -q."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and "quiet" in ctx.obj:
            return bool(ctx.obj["quiet"])
        ctx = ctx.parent
    return False


class UtcOffset(click.ParamType):
    """Hours east of UTC, as ``10``, ``-3.5``, or as zones are written, ``+05:30`` / ``-03:00``;
    only offsets that exist on Earth (−12 to +14 h), so a slip such as ``20`` is refused."""

    name = "hours"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The offset in hours east of UTC (a float), or a usage error."""
        if isinstance(value, (int, float)):
            hours = float(value)
        else:
            text = str(value).strip().upper().removeprefix("UTC")
            hh, colon, mm = text[1:].partition(":") if text[:1] in "+-" else text.partition(":")
            if hh.startswith(("+", "-")) or (colon and not (hh.isdigit() and mm.isdigit() and int(mm) < 60)):
                self.fail(f"{value!r}: give hours east of UTC, e.g. 10, -3.5 or +05:30", param, ctx)
            try:
                hours = float(hh) + (int(mm) / 60 if colon else 0.0)
            except ValueError:
                self.fail(f"{value!r}: give hours east of UTC, e.g. 10, -3.5 or +05:30", param, ctx)
            if text.startswith("-"):
                hours = -hours
        if not -12 <= hours <= 14:
            self.fail(f"{value!r}: UTC offsets run from -12 to +14 hours", param, ctx)
        return hours


_GIVEN_DATES = "sitewatch.given_dates"
"""Key in ``ctx.meta``: each date option's text as given (by option, ``--from``), for :func:`check_date_order`."""


class DateOrTime(click.ParamType):
    """A date or time option (``--from``, ``--to``, ``--acquired``): one parser for every command,
    :func:`~sitewatch.model.parse_date_or_time`, so each accepts the same forms (``2024-10-01``,
    ``20241001``, ``2024-W40-2``, ``2024-10-01T09:30Z``, and ``17 October 2024`` or ``Oct 17, 2024``
    as claims files take them) and refuses a bad value with one message
    naming the option and the value (exit code 2, as for any bad option value).

    ``role`` says what a date alone means:

    - ``start``: its first moment (00:00 UTC);
    - ``end``: its whole day (to 23:59:59.999999 UTC);
    - ``acquired``: 12:00 UTC, as a date in a file name; a time in the future is refused;
    - ``date``: the calendar date itself (a :class:`~datetime.date`), for the timeline, whose
      dates are local with --utc-offset, and for ``links``, ``ais`` and ``alerts check``, whose
      dates are UTC dates: a time is refused there, since a date row cannot be cut.
    """

    name = "date"

    def __init__(self, role: Literal["start", "end", "acquired", "date"]) -> None:
        self.role = role

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The value as an aware UTC datetime, or a date for the ``date`` role (see the class); else a usage error."""
        if isinstance(value, (datetime, date)):
            return value
        from ..model import NoonOfDate, parse_date_or_time

        try:
            when, date_only = parse_date_or_time(str(value))
        except SitewatchError as exc:
            # "21/08/2023", as a form writes dates: say the ISO date it is (both readings of 05/10/2024), as claims files do.
            from ..claims_file import date_spelling_hint

            hint = date_spelling_hint(str(value)).removeprefix(": ")
            self.fail(f"{exc}; {hint}" if hint else str(exc), param, ctx)
        if ctx is not None and isinstance(param, click.Option):
            ctx.meta.setdefault(_GIVEN_DATES, {})[param.opts[0]] = str(value).strip()
        if self.role == "date":
            if not date_only:
                # `timeline` and `report` take local dates with --utc-offset; `links`, `ais` and
                # `alerts check` have no such option: their dates are UTC dates.
                if ctx is not None and any(p.name == "utc_offset" for p in ctx.command.params):
                    why = "the timeline keeps whole dates (local ones with --utc-offset): give a date"
                else:
                    why = "this option takes a whole date: give a UTC date"
                self.fail(f"{value!r} is a time; {why}, e.g. 2024-10-01 or 20241001", param, ctx)
            return when.date()
        if date_only and self.role == "end":
            return when.replace(hour=23, minute=59, second=59, microsecond=999999)  # adding a day overflows on 9999-12-31
        if date_only and self.role == "acquired":
            when = NoonOfDate.of(when)  # its provenance then says the time of day was not given
        if self.role == "acquired" and when > datetime.now(UTC) + timedelta(days=1):
            self.fail(f"{value!r} is in the future; give the time the image was taken (ISO 8601, UTC)", param, ctx)
        return when


def check_date_order(start: date | None, end: date | None) -> None:
    """Refuse ``--to`` before ``--from`` (exit code 2), quoting both as given (see :class:`DateOrTime`)."""
    if start is None or end is None or end >= start:
        return
    ctx = click.get_current_context()
    given = ctx.meta.get(_GIVEN_DATES, {})
    raise click.BadParameter(
        f"{given.get('--to', str(end))!r} is before --from {given.get('--from', str(start))!r}", ctx=ctx, param_hint="'--to'"
    )


# Options of the commands that read image files: declared once where two commands take them alike.

acquired_option = click.option(
    "--acquired", type=DateOrTime("acquired"), metavar="TIME",
    help="Acquisition time (ISO 8601, UTC; a date alone is 12:00 UTC), for files that do not say; "
         "it overrides what they say.",
)  # fmt: skip
"""``--acquired`` of ``ingest`` and ``import``: the acquisition time of files that carry none, or another."""

files_sensor_option = click.option("--sensor", type=click.Choice(["sar", "optical"]), help="When the files do not say.")
"""``--sensor`` of ``ingest`` and ``import``: the sensor of files that do not name one."""

def orthorectify_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--orthorectify``, ``--dem`` and ``--height`` of ``ingest`` and ``import`` (:func:`orthorectify_given`)."""
    f = click.option("--height", "rpc_height", type=FiniteFloatRange(), default=None, metavar="METRES",
                     help="With --orthorectify: one ground height above the WGS84 ellipsoid for an RPC image (the quay's), "
                          "as gdalwarp's RPC_HEIGHT; relief off it shifts the image. Or --dem.")(f)  # fmt: skip
    f = click.option("--dem", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, metavar="PATH",
                     help="With --orthorectify: a DEM GeoTIFF (heights above the ellipsoid) that covers the site, as "
                          "gdalwarp's RPC_DEM.")(f)  # fmt: skip
    return click.option("--orthorectify", is_flag=True,
                        help="Orthorectify images placed by RPCs (Maxar OR2A, Planet basic) or GCPs instead of a map "
                             "grid, over each site's part only, instead of refusing them; RPCs need --dem or --height.")(f)  # fmt: skip


def orthorectify_given(orthorectify: bool, dem: Path | None, height: float | None) -> Any:
    """The :class:`~sitewatch.ingest.ortho.Orthorectify` the options ask for (None without ``--orthorectify``);
    ``--dem`` or ``--height`` without it, both, or a DEM that cannot be placed are refused by name."""
    if not orthorectify:
        if dem is not None or height is not None:
            given = "--dem" if dem is not None else "--height"
            raise InputError(f"{given}: only with --orthorectify (an image placed by RPCs is refused without it)")
        return None
    from ..ingest.ortho import Orthorectify, check_dem

    if dem is not None:
        check_dem(dem)
    return Orthorectify(dem, height)


dn_scale_option = click.option(
    "--dn-scale", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="N",
    help="Optical: integer values are reflectance x N (default: 255 for 8-bit; 65535 when the values fill the "
         "16-bit range, else 10000).",
)  # fmt: skip
"""``--dn-scale`` of ``detect-image`` and ``change-image`` (``ingest`` says it of files, not products)."""

json_summary_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary for scripts.")
"""``--json`` of ``detect-image`` and ``change-image``: a summary, the regions or detections going to --out."""

min_area_option = click.option(
    "--min-area-m2", type=FiniteFloatRange(min=0), default=200.0, show_default=True,
    help="Drop regions smaller than this (m²).",
)  # fmt: skip
"""``--min-area-m2`` of ``change`` and ``change-image``: the smallest change region kept."""

learned_option = click.option(
    "--learned/--no-learned", default=True, show_default=True,
    help="Optical pairs of 5-15 m pixels with blue, green and red: regions seeded by a learned score (trained on "
         "OSCD's labelled cities) and by the chi-square test's strongest changes; at 0.25-1 m by another (trained on "
         "LEVIR-CD and DSIFN-CD samples) (README); --no-learned: the chi-square test alone.",
)  # fmt: skip
"""``--learned/--no-learned`` of ``change`` and ``change-image``: method ``irmad-cva`` 5 or the test of 3 (at
sub-metre pixels 6 or 4)."""


def utc_offset_option(then: str) -> Callable[[F], F]:
    """``--utc-offset HOURS`` into ``utc_offset``, declared once for every command that takes local dates
    (``timeline``, ``report``, ``claims check``); ``then`` says which of the command's dates become local."""
    return click.option(
        "--utc-offset", type=UtcOffset(), default=0.0, show_default=True, metavar="HOURS",
        help=f"Hours added to acquisition times before taking the date (10 or +10:00 for Primorsky local dates); {then}",
    )  # fmt: skip


def timeline_options(*, dates: bool = True) -> Callable[[F], F]:
    """The timeline rules ``timeline`` and ``report`` share, declared once.

    Cloud and valid shares are percent, as ``--max-cloud`` is in ``search`` and
    ``fetch`` and the ``max_cloud`` setting; :func:`timeline_params` turns them
    into the fractions of :class:`~sitewatch.analysis.occupancy.TimelineParams`.
    ``dates`` adds ``--from``/``--to``.
    """
    from ..analysis.occupancy import TimelineParams

    d = TimelineParams()
    options = [
        click.option("--gap-days", type=click.IntRange(min=1), default=d.gap_days, show_default=True,
                     help="Dates further apart than this start a new observation period."),
        click.option("--min-valid", type=FiniteFloatRange(0, 100), default=d.min_valid_fraction * 100,
                     show_default=True, metavar="PCT",
                     help="Least % of the site with data for an observation to count."),
        click.option("--max-cloud", type=FiniteFloatRange(0, 100), default=d.max_cloud_fraction * 100,
                     show_default=True, metavar="PCT",
                     help="Most cloud % over the site for an optical observation to count."),
        click.option("--max-berth-hidden", type=FiniteFloatRange(0, 100), default=d.max_berth_hidden_fraction * 100,
                     show_default=True, metavar="PCT",
                     help="A berth with more % of its zone without data or under cloud is not seen that date: "
                          "a vessel last seen there is carried forward, not counted a departure."),
        utc_offset_option("dates, --from and --to are then local dates." if dates else "dates are then local dates."),
    ]  # fmt: skip
    if dates:
        options[:0] = [
            click.option("--from", "start", type=DateOrTime("date"), metavar="DATE",
                         help="First date kept: a UTC date, or with --utc-offset a local date at UTC+HOURS (2024-10-01 or 20241001)."),
            click.option("--to", "end", type=DateOrTime("date"), metavar="DATE",
                         help="Last date kept: a UTC date, or with --utc-offset a local date at UTC+HOURS (2024-10-31 or 20241031)."),
        ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def timeline_params(
    *,
    gap_days: int,
    min_valid: float,
    max_cloud: float,
    utc_offset: float,
    max_berth_hidden: float = 50.0,
    start: date | None = None,
    end: date | None = None,
) -> TimelineParams:
    """TimelineParams from the options of :func:`timeline_options` (percent to fractions)."""
    from ..analysis.occupancy import TimelineParams

    return TimelineParams(
        min_valid_fraction=min_valid / 100,
        max_cloud_fraction=max_cloud / 100,
        max_berth_hidden_fraction=max_berth_hidden / 100,
        gap_days=gap_days,
        utc_offset_hours=utc_offset,
        start=start,
        end=end,
    )
