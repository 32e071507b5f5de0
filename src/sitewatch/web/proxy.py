"""The dashboard behind a reverse proxy that serves it under a sub-path (``https://desk.example/sitewatch/``).

``sitewatch serve --root-path /sitewatch`` gives the path: the pages' links, images and forms start with it
(:attr:`~sitewatch.web.app.Dashboard.root`), and :class:`StripRootPath` takes it off the requests, so that a proxy
may pass the path as the browser asked it (nginx's ``proxy_pass http://127.0.0.1:8000;``) or strip the prefix
(``proxy_pass http://127.0.0.1:8000/;``, Caddy's ``handle_path``): both reach the same routes.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from ..errors import InputError

__all__ = ["check_root_path", "route_path", "StripRootPath"]


def check_root_path(root_path: str) -> str:
    """``root_path`` (``serve --root-path``) as the dashboard's links start with it: ``/sitewatch`` for
    ``/sitewatch/`` or ``sitewatch``, "" for ``/``; refused (:class:`~sitewatch.errors.InputError`) unless it is
    a plain path (letters, digits, ``-._~`` and ``/``: no query, host or scheme)."""
    root = "/" + root_path.strip("/") if root_path.strip("/") else ""
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)*", root) or any(part in (".", "..") for part in root.split("/")):
        raise InputError(f"refused root path {root_path!r}: give the path the proxy serves the dashboard under, such as "
                         "/sitewatch (letters, digits, '-', '.', '_', '~' and '/'), as in https://desk.example/sitewatch/")
    return root


def strip_root(path: str, root: str) -> str:
    """``path`` without the prefix ``root`` when it starts with it (``/sitewatch/api/sites`` is ``/api/sites``)."""
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


def route_path(request: Request, root: str) -> str:
    """The request's path in the dashboard (``/api/sites``), whether or not the proxy left ``root`` on it."""
    return strip_root(request.url.path, root)


class StripRootPath:
    """ASGI middleware taking ``root`` off a request's path (and setting the scope's ``root_path``, which the
    OpenAPI doc names as its server); a path without it (a proxy that strips it) is passed as it came."""

    def __init__(self, app: Any, root: str) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = scope.get("raw_path")
            scope = {**scope, "path": strip_root(scope["path"], self.root), "root_path": self.root}
            if raw is not None:
                scope["raw_path"] = strip_root(raw.decode("latin-1"), self.root).encode("latin-1")
        await self.app(scope, receive, send)
