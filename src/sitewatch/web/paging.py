"""A list answer of the JSON API one page at a time, as OGC API Features and STAC API page theirs.

``/api/sites`` of a port list sent every site in one answer (624 kB at 4,000 sites) while the sites page
shows 200. It now takes ``limit`` (how many, default :data:`DEFAULT_LIMIT`; more than :data:`MAX_LIMIT`
gives that many, as OGC API Features says a server does rather than refuse) and ``offset`` (how many to
skip, default 0), and answers an object: the page's items, ``numberMatched`` (all of them),
``numberReturned`` (this page's) and ``links`` (``self``, and ``next`` / ``prev`` while there are more
either way, each the same address with its ``offset`` moved, relative to the server as the pages' links are): a
client follows ``next`` until there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.datastructures import URL

from .data import BadId

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "PAGING_PARAMETERS", "page_of"]

DEFAULT_LIMIT = 200
"""Items a page holds when ``limit`` is not given: as many as the sites page shows."""

MAX_LIMIT = 10_000
"""The most a page holds (a larger ``limit`` gives this many): a whole port list of 4,000 in one answer."""

PAGING_PARAMETERS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT,
              "description": f"How many items a page holds (more than {MAX_LIMIT:,} gives {MAX_LIMIT:,})"},
    "offset": {"type": "integer", "minimum": 0, "default": 0, "description": "How many items to skip from the first"},
}  # fmt: skip
"""The query parameters' schemas as the OpenAPI doc declares them (the routes take them as text and check them
here, so that a bad one is a 400 naming it rather than FastAPI's 422)."""


def _whole(name: str, value: str | None, default: int, least: int) -> int:
    if value is None:
        return default
    # However many digits (the doc sets no maximum): a limit past MAX_LIMIT gives that many, an offset past the end none.
    if not (value.isascii() and value.isdigit() and (len(value) > 18 or int(value) >= least)):
        shown = value if len(value) <= 12 else f"{value[:12]}…"
        raise BadId(f"refused {name}={shown!r}: {name} is a whole number from {least} (e.g. ?limit={DEFAULT_LIMIT}&offset=0)")
    return int(value) if len(value) <= 18 else 10**18


def page_of(items: Sequence[dict[str, Any]], key: str, url: URL, limit: str | None, offset: str | None) -> dict[str, Any]:
    """The page of ``items`` that ``limit`` and ``offset`` (the request's query, as text) choose, under ``key``, with
    the figures and links of :mod:`this module <sitewatch.web.paging>`; ``url`` is the request's, for the links.
    An offset past the end is an empty page (``numberReturned`` 0, a ``prev`` link), not an error."""
    n = min(_whole("limit", limit, DEFAULT_LIMIT, 1), MAX_LIMIT)
    first = _whole("offset", offset, 0, 0)
    shown = list(items[first:first + n])
    # Relative to the server, as the pages' own links (`/?page=2`): right behind a proxy that names it otherwise.
    url = URL(url.path + (f"?{url.query}" if url.query else ""))

    def link(rel: str, at: int) -> dict[str, str]:
        return {"rel": rel, "href": str(url.include_query_params(limit=n, offset=at)), "type": "application/json"}

    links = [{"rel": "self", "href": str(url), "type": "application/json"}]
    if first + n < len(items):
        links.append(link("next", first + n))
    if first > 0:
        links.append(link("prev", max(min(first, len(items)) - n, 0)))
    return {key: shown, "numberMatched": len(items), "numberReturned": len(shown), "links": links}
