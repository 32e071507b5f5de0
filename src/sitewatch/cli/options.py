"""Options shared by several commands, declared once."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import SitewatchError

F = TypeVar("F", bound=Callable[..., Any])

workspace_option = click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SITEWATCH_WORKSPACE",
    default=Path("."),
    show_default=True,
    help="Workspace folder (made by `sitewatch init`). Env: SITEWATCH_WORKSPACE.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@contextmanager
def errors_to_click() -> Iterator[None]:
    """Turn sitewatch errors into ClickException (exit code 1) with the message alone."""
    try:
        yield
    except SitewatchError as exc:
        raise click.ClickException(str(exc)) from exc


def handle_errors(func: F) -> F:
    """Decorator form of :func:`errors_to_click`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with errors_to_click():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar as a ``progress(done, total, what)`` callback; silent when quiet."""
    if quiet:
        yield lambda done, total, what: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[what]}"),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, what="")

        def update(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, what=what)

        yield update


def is_quiet() -> bool:
    """True when the group was given -q."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and "quiet" in ctx.obj:
            return bool(ctx.obj["quiet"])
        ctx = ctx.parent
    return False
