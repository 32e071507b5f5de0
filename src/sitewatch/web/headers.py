"""The response headers every answer of the dashboard carries, for a browser that shows what untrusted files put there.

A workspace holds text from files someone sent (site names from KML/GeoJSON, claims, AIS): the pages escape it, and
these headers keep a slip from becoming a script. The pages need none of what they forbid: no script, nothing from
another origin, styles inline (a ``<style>`` and a few ``style=`` attributes), images from the dashboard itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SECURITY_HEADERS", "SecurityHeaders"]

SECURITY_HEADERS: dict[str, str] = {
    # No script at all, nothing from elsewhere (no CDN), no <base> to redirect relative links, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # A .tif or a JSON answer is never read as HTML by a browser guessing its type.
    "X-Content-Type-Options": "nosniff",
    # Another site in a reporter's browser may not frame the pages, embed the images or learn the addresses followed.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "same-origin",
}
"""Header name → value, added to every response that does not set the header itself."""


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response (pages, JSON, images, errors)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in self._headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, with_headers)
