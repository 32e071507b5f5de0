"""Who may read the dashboard: an opt-in access token (``sitewatch serve --token-file``), as Jupyter's.

Without a token the dashboard answers anyone who reaches it (its default, on localhost). With one, every request
but the health check (:data:`~sitewatch.web.app.HEALTH_PATH`) must show it:

- a browser signs in once on a form (the token posted, never in an address, where history, a proxy's access log
  and ``Referer`` would keep it) and is then known by a cookie: HttpOnly, SameSite=Lax, ``Secure`` when the request
  came by HTTPS (a proxy's ``X-Forwarded-Proto`` as uvicorn trusts it), its value a keyed hash of the token, so a
  new token signs everyone out;
- a script sends ``Authorization: Bearer TOKEN``.

Every comparison is in constant time (:func:`hmac.compare_digest`). A request without the token gets 401: the
sign-in form for a page, ``{"detail": …}`` JSON with ``WWW-Authenticate: Bearer`` for the API, an image, a file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2

from ..errors import InputError
from .proxy import strip_root

__all__ = ["COOKIE", "LOGIN_PATH", "LOOPBACK_NAMES", "MIN_TOKEN_CHARS", "UNSIGNED_SCOPE_KEY", "HostCheck", "TokenGuard", "read_token_file"]

COOKIE = "sitewatch_session"
"""The cookie a browser signed in with the token carries."""
LOGIN_PATH = "/login"
"""The sign-in form's address (under the dashboard's root path): GET shows it, POST checks the token."""
MIN_TOKEN_CHARS = 16
"""A shorter token is refused: one guessed in a few tries protects nothing."""
MAX_FORM_BYTES = 8192
"""The most a sign-in form's body may hold; a longer one is refused (413) unread."""
UNSIGNED_SCOPE_KEY = "sitewatch.unsigned"
"""True in the scope of a request :class:`TokenGuard` let through to an open path without the token: an error there
says what failed, not where (the store's file, the PostGIS server's address and user)."""
SESSION_DAYS = 30
"""How long a browser stays signed in (the cookie's Max-Age)."""
_MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE; chmod 600 FILE"


def read_token_file(path: Path) -> str:
    """The token in ``path`` (its first line, surrounding spaces dropped); :class:`~sitewatch.errors.InputError`
    naming the file when it cannot be read, is empty or holds a token shorter than :data:`MIN_TOKEN_CHARS`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the token file {path}: {exc}; make one with `{_MAKE_TOKEN}`") from exc
    token = lines[0].strip() if lines else ""
    if len(token) < MIN_TOKEN_CHARS:
        raise InputError(f"the token file {path} holds {'no token' if not token else f'a token of {len(token)} characters'}: "
                         f"give one of at least {MIN_TOKEN_CHARS} on its first line, e.g. `{_MAKE_TOKEN}`")  # fmt: skip
    if any(not c.isprintable() or c.isspace() for c in token):
        raise InputError(f"the token file {path} has spaces or control characters in its token: give one word, e.g. `{_MAKE_TOKEN}`")
    return token


def _session_value(token: str) -> str:
    # Keyed by the token: the cookie never holds the token itself, and a new token makes every old cookie void.
    return hmac.new(token.encode(), b"sitewatch dashboard session", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(errors="surrogateescape"), expected.encode())


_LOGIN = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · sitewatch</title>
<style>body { font-family: system-ui, sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em; color: #222; }
input { font: inherit; padding: 0.3em; } .error { color: #8b0000; font-weight: 600; }</style>
</head>
<body>
<main>
<h1>sitewatch dashboard</h1>
{% if wrong %}<p class="error" id="token-error" role="alert">That is not this dashboard's token.</p>{% endif %}
<form method="post" action="{{ action }}">
<p><label for="token">Access token (ask the dashboard's administrator)</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus{% if wrong %} aria-invalid="true" aria-describedby="token-error"{% endif %}></p>
<input type="hidden" name="next" value="{{ next }}">
<p><button type="submit">Sign in</button></p>
</form>
</main>
</body>
</html>
""")


class TokenGuard:
    """ASGI middleware letting through only requests that show ``token`` (see the module's doc); ``root`` is the
    dashboard's root path behind a proxy, ``open_paths`` the paths (in the dashboard) answered without it."""

    def __init__(self, app: Any, token: str, *, root: str = "", open_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.token = token
        self.session = _session_value(token)
        self.root = root
        self.open_paths = open_paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = self._route_path(scope["path"])
        if path == LOGIN_PATH:
            await self._login(scope, receive, send)
            return
        if path in self.open_paths:  # marked when the token was not shown: its errors then keep the workspace's paths
            await self.app({**scope, UNSIGNED_SCOPE_KEY: not self._shown(scope)}, receive, send)
            return
        if self._shown(scope):
            await self.app(scope, receive, _private(send))
            return
        await self._refuse(scope, path, send)

    def _route_path(self, path: str) -> str:
        return strip_root(path, self.root)  # a proxy may pass /sitewatch/... as asked, or strip it

    def _shown(self, scope: Any) -> bool:
        headers = _headers(scope)
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), self.token):
            return True
        # Read as a browser writes it, pair by pair: another application's cookie on the same host that the stdlib's
        # strict parser stops at (a JSON value, a space) leaves ours readable, and one of the same name at a wider
        # path (sent after ours) does not hide it.
        found = False
        for pair in headers.get("cookie", "").split(";"):
            name, eq, value = pair.partition("=")
            if eq and name.strip() == COOKIE:
                found = _same(value.strip(), self.session) or found
        return found

    async def _refuse(self, scope: Any, path: str, send: Any) -> None:
        head = scope["method"] == "HEAD"
        if path.startswith("/api/") or path.endswith((".png", ".tif", ".json")):
            body = (b'{"detail":"this dashboard asks for its access token: send `Authorization: Bearer TOKEN` '
                    b'(a browser signs in on its pages)"}')
            await _send(send, 401, body, "application/json", [(b"www-authenticate", b'Bearer realm="sitewatch"')],
                        head=head)
            return
        # Back to the address asked once signed in, as it was written (escapes kept: a site id may have spaces).
        raw = scope.get("raw_path") or scope["path"].encode()
        asked = self._route_path(raw.decode("latin-1"))
        query = scope.get("query_string", b"").decode("latin-1")
        here = self.root + asked + (f"?{query}" if query else "")
        await _send(send, 401, self._form(here, wrong=False), "text/html; charset=utf-8", head=head)

    def _form(self, next_url: str, *, wrong: bool) -> bytes:
        return _LOGIN.render(action=self.root + LOGIN_PATH, next=next_url, wrong=wrong).encode()

    def _next(self, asked: str) -> str:
        """Where to go after signing in: ``asked`` when it is an address of this dashboard, its sites page otherwise
        (never another site's: ``//evil.example`` or ``https://…`` would make the form an open redirect)."""
        home = self.root + "/"
        if not asked.startswith(home) or asked.startswith("//") or "\\" in asked or any(c in asked for c in "\r\n"):
            return home
        return asked

    async def _login(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await _send(send, 200, self._form(self.root + "/", wrong=False), "text/html; charset=utf-8",
                        head=scope["method"] == "HEAD")  # fmt: skip
            return
        if scope["method"] != "POST":
            await _send(send, 405, b'{"detail":"the sign-in form takes GET and POST"}', "application/json",
                        [(b"allow", b"GET, HEAD, POST")])  # fmt: skip
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await _send(send, 413, b'{"detail":"a sign-in form holds a token, not this much"}', "application/json")
                return
            if not message.get("more_body"):
                break
        try:
            form = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
        except ValueError:  # more fields than a token and a next (parse_qs counts each '&'): not this page's form
            await _send(send, 400, b'{"detail":"a sign-in form holds the fields token and next, not more"}',
                        "application/json")  # fmt: skip
            return
        given = (form.get("token") or [""])[0].strip()
        target = self._next((form.get("next") or [""])[0])
        if not _same(given, self.token):
            await _send(send, 401, self._form(target, wrong=True), "text/html; charset=utf-8")
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = (f"{COOKIE}={self.session}; Path={self.root or '/'}; Max-Age={SESSION_DAYS * 86400}; HttpOnly; "
                  f"SameSite=Lax{secure}")  # fmt: skip
        location = quote(target, safe="/?&=%:;,+-._~!$'()*@")
        await _send(send, 303, b"", "text/plain", [(b"location", location.encode()), (b"set-cookie", cookie.encode())])


def _private(send: Any) -> Any:
    """``send`` with ``Cache-Control: private`` on the response: what a reader who showed the token gets is not kept
    by a shared cache (a proxy's, a company's) for others; a header there already (``no-cache``) is kept, made private."""

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
            had = [v for k, v in message.get("headers", []) if k.lower() == b"cache-control"]
            value = b", ".join(had if any(b"private" in v for v in had) else [b"private", *had])
            message = {**message, "headers": [*headers, (b"cache-control", value)]}
        await send(message)

    return sending


def _headers(scope: Any) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _send(send: Any, status: int, body: bytes, media_type: str, extra: list[tuple[bytes, bytes]] | None = None,
                *, head: bool = False) -> None:  # fmt: skip
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""The names of this machine a browser on it uses: what a dashboard listening on localhost answers by default."""


class HostCheck:
    """ASGI middleware answering only requests addressed (``Host``) to one of ``names`` (ports aside), 400 otherwise.

    A dashboard on a reporter's own machine (``127.0.0.1``, no token) is reached by any web page the reporter opens
    that has its name resolve to 127.0.0.1 (DNS rebinding): that page is then of the same origin and could read the
    workspace. Such a page's requests carry its own name, never ``localhost``: refused, as Jupyter refuses them."""

    def __init__(self, app: Any, names: tuple[str, ...]) -> None:
        self.app = app
        self.names = {n.lower().strip("[]") for n in names}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        host = _headers(scope).get("host") if scope["type"] == "http" else None
        if host is None or _host_name(host) in self.names:
            await self.app(scope, receive, send)
            return
        shown = host if len(host) <= 80 else f"{host[:80]}…"
        detail = (f"refused a request addressed to {shown!r}: this dashboard listens on this machine only and answers "
                  f"the names {', '.join(sorted(self.names))} (a web page elsewhere could otherwise read it by having its "
                  "name point here); behind a proxy that passes its own Host, give `sitewatch serve --allowed-host NAME`")
        body = json.dumps({"detail": detail}).encode()
        await _send(send, 400, body, "application/json", head=scope["method"] == "HEAD")


def _host_name(host: str) -> str:
    """The name in a ``Host`` header without its port; a malformed one (``[::1]evil.example``, ``[localhost]``,
    ``localhost:x``) as it came, which no allowed name matches."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000: brackets hold an IPv6 address, and only a port may follow them
        name, _, rest = host[1:].partition("]")
        return name if ":" in name and re.fullmatch(r"(:[0-9]*)?", rest) else host
    if host.count(":") == 1:
        name, port = host.split(":")
        return name if re.fullmatch(r"[0-9]*", port) else host
    return host


