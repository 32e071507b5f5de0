"""The dashboard's OpenAPI doc as the app answers: its error responses declared, FastAPI's 422 left out,
each id parameter's pattern given.

FastAPI documents a 422 "Validation Error" on every route with a parameter; the dashboard's parameters
are path strings that no value fails, so none answers it. What they do answer instead is each error
the app's handlers make (:data:`ERRORS`), always ``{"detail": MESSAGE}`` as JSON, whatever the
route's own media type (``application/geo+json`` for a site's detections). An id that does not match its
parameter's pattern (:data:`~sitewatch.web.data.ID_PATTERNS`) is the 400; one that does is looked up.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .data import ID_PATTERNS
from .paging import PAGING_PARAMETERS

__all__ = ["BEARER_SCHEME", "ERROR_SCHEMA", "ERRORS", "ID_PARAMETERS", "RETRY_AFTER_HEADER", "declare_errors"]

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "What went wrong, in a sentence that names the id or the file and says what to do.",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}
"""Every error's body, as the app's handlers write it."""

ERRORS: tuple[tuple[str, str, str | None], ...] = (
    ("400", "An id that reads as a path (`..`, `\\`, a control character, an empty part), refused before any lookup; "
            "a `limit` or `offset` that is not a whole number (`limit` from 1); a `from` or `to` that is not a date, "
            "or a `to` before `from`", "any"),
    ("404", "No site, observation or change pair of that id in the workspace", "path"),
    ("500", "An error the dashboard did not foresee; the server's log has the details", None),
    ("503", "The workspace's data cannot be read: its PostGIS server stopped, restarting or refusing connections, or "
            "its GeoPackage locked by a stage writing it (these pass: `Retry-After` says when to try again); its "
            "GeoPackage gone or damaged, or an AIS file given to `serve --ais` gone or unreadable", None),
)
"""(status, description, on which routes) of each error an API route may answer: every one (None), those with
a parameter (``any``: a path's id or a page's query) or with a path parameter (``path``: an id looked up)."""

RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds to wait before asking again, on a 503 that passes (the PostGIS server restarting or "
                   "unreachable, the GeoPackage locked); absent when it does not (a file gone or damaged)",
    "required": False,
    "schema": {"type": "integer", "minimum": 1},
}
"""The header of a 503 that passes (:data:`~sitewatch.web.app.RETRY_AFTER_S`), as the doc declares it."""

ID_PARAMETERS: dict[str, str] = {"site_id": ID_PATTERNS[1], "observation_id": ID_PATTERNS[None], "pair_id": ID_PATTERNS[None]}
"""The pattern of each id parameter: a site's id is one part; an observation's (``SITE/ITEM``) and a change
pair's (``BEFORE..AFTER``) may have several, joined by ``/``."""


BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "The dashboard's access token (`sitewatch serve --token-file`), as `Authorization: Bearer TOKEN`.",
}
"""The security scheme the doc of a dashboard behind a token declares (``components.securitySchemes.token``)."""


def declare_errors(app: FastAPI, *, bearer: bool = False) -> None:
    """Make ``app.openapi()`` declare each of :data:`ERRORS` on the ``/api/`` routes, the pattern of each of
    :data:`ID_PARAMETERS`, and drop FastAPI's 422; with ``bearer`` (a dashboard behind ``--token-file``), the
    :data:`BEARER_SCHEME` every operation asks for and its 401 on each ``/api/`` route."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = make()
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in doc["paths"].items():
            for op in operations.values():
                responses = op["responses"]
                responses.pop("422", None)
                for parameter in op.get("parameters", []):
                    if parameter["name"] in ID_PARAMETERS:
                        parameter["schema"]["pattern"] = ID_PARAMETERS[parameter["name"]]
                    elif parameter["in"] == "query" and parameter["name"] in PAGING_PARAMETERS:
                        # Taken as text by the route (a bad one is its 400, not FastAPI's 422); declared as what it must be.
                        parameter["schema"] = dict(PAGING_PARAMETERS[parameter["name"]])
                        parameter["description"] = parameter["schema"].pop("description")
                    elif parameter["in"] == "query" and parameter["name"] in ("from", "to"):
                        # As the paging's: text to the route, a date to the doc (the route also reads 20241001, 2024-W40-2).
                        parameter["schema"] = {"type": "string", "format": "date"}
                if not path.startswith("/api/"):
                    continue
                where = {p["in"] for p in op.get("parameters", [])}
                for status, description, needs in ERRORS:
                    if (needs == "any" and not where) or (needs == "path" and "path" not in where):
                        continue
                    responses[status] = {"description": description, "content": ref}
                    if status == "503":
                        responses[status]["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
                if bearer:
                    responses["401"] = {"description": "The access token not sent, or not this dashboard's", "content": ref}
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Error"] = ERROR_SCHEMA
        if bearer:
            doc["components"]["securitySchemes"] = {"token": BEARER_SCHEME}
            doc["security"] = [{"token": []}]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
