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
