"""The web dashboard: a read-only view of one workspace in the browser, and a JSON API beside it.

``sitewatch serve`` runs it (:func:`serve`); :func:`create_app` makes the ASGI app for a server
of your own or for tests. Both need the ``web`` extra (FastAPI and uvicorn): without it they
raise :class:`~sitewatch.errors.MissingExtraError` saying ``pip install 'sitewatch[web]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import require_extra

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app", "serve", "serve_app", "DEFAULT_HOST", "DEFAULT_PORT"]

DEFAULT_HOST = "127.0.0.1"
"""Localhost only: 0.0.0.0 would show the workspace, archived images included, to the whole network."""
DEFAULT_PORT = 8000
"""The port ``sitewatch serve`` listens on unless ``--port`` says another."""


def create_app(workspace: Path | str, **kwargs: Any) -> FastAPI:
    """The dashboard of ``workspace`` as a FastAPI app; see :func:`sitewatch.web.app.create_app`."""
    require_extra("fastapi", "web")
    from .app import create_app as create

    return create(workspace, **kwargs)


def serve(
    workspace: Path | str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "info", root_path: str = "",
) -> None:  # fmt: skip
    """Serve the dashboard of ``workspace`` on ``host``:``port`` with uvicorn until interrupted; ``root_path`` is the
    path a reverse proxy serves it under (``/sitewatch``), which its links then start with."""
    serve_app(create_app(workspace, root_path=root_path), host, port, log_level=log_level)


def serve_app(
    app: FastAPI, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "info",
    on_listening: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """Serve an app of :func:`create_app` with uvicorn until interrupted; ``on_listening`` is called once the
    address is known to be free, before the server starts (``sitewatch serve`` says its URL there)."""
    require_extra("uvicorn", "web")
    import socket

    import uvicorn

    from ..errors import OutputError

    # uvicorn logs a busy port and exits 3, the code of a partial run: said here, as an error, first.
    try:
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
    except OSError as exc:
        raise OutputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; give another --port "
            "(or stop the program using it)"
        ) from exc
    if on_listening is not None:
        on_listening()
    uvicorn.run(app, host=host, port=port, log_level=log_level)
