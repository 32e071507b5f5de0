"""The dashboard's FastAPI app: server-rendered pages and a JSON API over one workspace, read-only.

Pages (no script, nothing loaded from elsewhere):

- ``/``: the sites, each with its kind, resolved flag, observations, detections and date range;
- ``/sites/{id}``: its map (inline SVG in the site's UTM grid, with the detections and the stored change
  regions), the report's timeline chart, periods, dates with arrivals and departures, its stored changes
  (``sitewatch change``), its recorded alert events (``sitewatch alerts check``) and its observations;
- ``/links``: the candidate links among all sites, as ``sitewatch links`` finds them (settled by AIS
  when the dashboard was given AIS files);
- ``/observations/{id}``: a quick-look of the archived image with the detections' oriented boxes
  drawn over it, the detections, a close-up of each (the :data:`MAX_CLOSE_UPS` highest scores) and
  the provenance; ``/observations/{id}/detections/{n}.png`` is the close-up of its ``n``-th detection
  (counting from 1, in the table's order).

The JSON API (``/api/...``) returns what the pages show; ``/openapi.json`` describes it. FastAPI's
``/docs`` and ``/redoc`` are off: they load their scripts from a CDN.

Every request reads the store read-only (SQLite refuses writes on that connection) in the thread
that serves it: a GeoPackage opened for it, a PostGIS store kept open between requests (:mod:`.store_pool`). Files are served by observation id only: the path comes from the database and
must lie inside the workspace's archive.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import jinja2
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from .. import __version__
from ..analysis.ais_coverage import StatedCoverage
from ..analysis.links import inland_without_vessels
from ..analysis.occupancy import Timeline, TimelineParams, build_timeline, timeline_to_dict
from ..change_dating import dated_lines
from ..detection_masks import has_context, window_grid
from ..errors import NO_ROOM_TO_LOAD, ImageReadError, InputError, StoreError, StoreUnavailableError
from ..geo import reproject_geometry
from ..model import Detection, Observation, acquired_label
from ..report import charts
from ..report.credits import credit_text, scene_credit
from ..report.exports import date_zone
from ..report.html import (
    by_kind,
    candidates_text,
    imagery_lines,
    in_period,
    map_alt,
    template_environment,
)
from ..store import Store
from ..store.postgis import PostgisStore
from ..store.schema import SCHEMA_VERSION
from ..workspace import Workspace, open_workspace
from . import data, schemas
from .access import UNSIGNED_SCOPE_KEY, HostCheck, TokenGuard
from .data import BadId, NotFound, check_id
from .headers import SecurityHeaders
from .openapi import declare_errors
from .paging import page_of
from .pairs import SIDES, PairView, Side, load_pair, pair_detail
from .proxy import StripRootPath, check_root_path, route_path
from .quicklook import (
    QUICKLOOK_PX,
    WINDOW_MIN_PX,
    PixelWindow,
    QuicklookCache,
    bounds_window,
    quicklook_png,
    quicklook_shape,
)
from .store_pool import StorePool
from .svg import changes_overlay_svg, months_svg, overlay_svg, site_crs, site_svg

__all__ = ["create_app", "Dashboard", "GeoJSONResponse", "MAX_CLOSE_UPS", "CLOSE_UP_PX", "RETRY_AFTER_S", "HEALTH_PATH"]

MAX_CLOSE_UPS = 24
"""Close-ups on an observation page, highest scores first; the page says how many are not shown."""
CLOSE_UP_PX = 384
"""A close-up's longer side (px) at most, reached by whole-number upscaling of the image pixels."""
CLOSE_UP_MIN_IMAGE_PX = 64
"""A close-up's window is about four times its detection's length, and at least this many image pixels."""
RETRY_AFTER_S = 5
"""The ``Retry-After`` (s) of a 503 that passes (the PostGIS server restarting or unreachable, the GeoPackage
locked by a stage writing it): a restart of PostgreSQL takes a few seconds, and the next request connects anew."""


class GeoJSONResponse(JSONResponse):
    """GeoJSON, with its own media type (RFC 7946), as `sitewatch export` writes it."""

    media_type = "application/geo+json"


def close_up_margin_m(d: Detection, resolution_m: float) -> float:
    """Half the side (m) of the ground a close-up of ``d`` shows around its centroid."""
    return max(4 * d.length_m, CLOSE_UP_MIN_IMAGE_PX * resolution_m) / 2

_DRAWING = threading.Lock()
"""matplotlib is not thread-safe (its rcParams, which the charts' font fallback sets, and its font
cache are global): the server's threads draw one figure at a time."""


def _environment() -> jinja2.Environment:
    env = template_environment("web/templates")
    # An id in a link: its "/" kept (observation ids are SITE/ITEM), everything else escaped.
    env.filters["urlpart"] = lambda v: quote(str(v), safe="/")
    return env


class Dashboard:
    """What the routes share: the workspace, the timeline parameters, the quick-look cache, the templates."""

    def __init__(self, ws: Workspace, params: TimelineParams, cache: QuicklookCache, max_px: int = QUICKLOOK_PX,
                 ais_files: Sequence[Path] = (), ais_coverage: StatedCoverage | None = None,
                 ais_max_gap_s: float | None = None, root_path: str = "") -> None:  # fmt: skip
        self.root = root_path
        """The path the dashboard is served under behind a proxy (``/sitewatch``; "" at the server's root): every
        link, image and form of its pages starts with it."""
        self.ais_files = tuple(ais_files)
        self.ais_coverage = ais_coverage
        self.ais_max_gap_s = ais_max_gap_s
        self.ws = ws
        self.params = params
        self.cache = cache
        self.max_px = max_px
        self.env = _environment()
        self.pool = StorePool()
        """The PostGIS stores kept open between requests (a GeoPackage is opened for each)."""

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The workspace's store, read-only, for one request (and the thread serving it). A GeoPackage is opened
        anew each time, so that one put back is read at once; a PostGIS store is taken from :attr:`pool` (kept open
        between requests, its session asked first whether it still answers: one ended by a server's restart is
        replaced at once), under the ``store`` setting read for this request."""
        url = self.ws.store_url
        if url:
            with self.pool.store(url, self._open) as pg:
                yield pg
            return
        store = self._open()
        try:
            yield store
        finally:
            store.close()

    def _open(self) -> Store:
        """The workspace's store opened read-only, an error opening it named in the dashboard's terms."""
        try:
            return self.ws.store(read_only=True)
        except StoreError as exc:
            named = self._why_not(exc)
            if named is exc:
                raise
            raise named from exc

    def _why_not(self, exc: StoreError) -> StoreError:
        """``exc`` (the GeoPackage would not open) said in the dashboard's terms when its file went away since the
        start, which SQLite only calls "unable to open database file"; ``exc`` itself otherwise (a PostGIS store's
        errors name it already)."""
        if self.ws.store_url or isinstance(exc, StoreUnavailableError):
            return exc
        db = self.ws.db_path
        again = "the dashboard opens it anew for each request, so it shows the workspace again at once, without a restart"
        if not db.exists():
            return StoreError(f"the workspace database {db} is gone (deleted or moved since the dashboard started): put it "
                              f"back, from a backup if need be; {again}")  # fmt: skip
        if not db.is_file():
            return StoreError(f"the workspace database {db} is no longer a file (a folder or a device is there now): put the "
                              f"GeoPackage back in its place; {again}")  # fmt: skip
        if not os.access(db, os.R_OK):
            return StoreError(f"the workspace database {db} cannot be read by the dashboard's user ({exc}): give it read "
                              f"permission (`chmod a+r {db}`); {again}")  # fmt: skip
        return exc

    def page(self, template: str, *, simulated: bool, status: int = 200, **context: Any) -> HTMLResponse:
        """``template`` rendered with ``context`` as an HTML response; ``simulated`` marks the page SIMULATED."""
        html = self.env.get_template(template).render(
            simulated=simulated, workspace=str(self.ws.root.resolve()), version=__version__, root=self.root, **context
        )
        return HTMLResponse(html, status_code=status)

    def archived(self, obs: Observation) -> Path:
        """The archived COG of ``obs``: the path the database records, refused unless it lies in the archive.

        The recorded path is checked as written (no ``..`` climbing out of ``archive/``), not resolved: an
        ``archive/`` or a site's folder in it that is a symlink to another disk is where the user keeps
        the imagery, and its COGs are served as every other command reads them."""
        archive = Path(os.path.normpath(self.ws.archive.absolute()))
        path = Path(os.path.normpath(self.ws.root.absolute() / obs.path))
        if not path.is_relative_to(archive) or path == archive or not path.is_file():
            raise NotFound(f"the image of observation {obs.id!r} ({obs.path}) is not in the workspace's archive")
        return path

    def gone(self, obs: Observation) -> str:
        """Why the image of ``obs`` cannot be shown when it went from the archive after the store named it: a 404's
        message (``observations remove`` and ``sites remove --with-observations`` delete the rows, then the files)."""
        return (f"the image of observation {obs.id!r} ({obs.path}) is no longer in the workspace's archive: it was removed "
                "while the dashboard read it (`sitewatch observations remove`, `sites remove --with-observations`); reload the page")  # fmt: skip

    def quicklook(self, obs: Observation, window: PixelWindow | None = None) -> bytes:
        """The quick-look PNG of ``obs`` (or of its pixels in ``window``), a small one blown up towards
        :data:`~sitewatch.web.quicklook.WINDOW_MIN_PX` by whole pixels, from the cache when its file (by
        sha256) has been drawn before."""
        key = (obs.id, obs.sha256, str(self.max_px), str(WINDOW_MIN_PX)) + ((str(window),) if window is not None else ())
        png = self.cache.get(key)
        if png is None:
            path = self.archived(obs)
            try:
                with _DRAWING:
                    png = quicklook_png(path, obs, self.max_px, window, WINDOW_MIN_PX)
            except Exception as exc:  # rasterio's errors and a damaged file's: named, not a traceback
                if not path.is_file():  # removed since archived() found it: gone, not unreadable
                    raise NotFound(self.gone(obs)) from exc
                raise ImageReadError(f"cannot read the image of observation {obs.id!r} ({obs.path}): {exc}") from exc
            self.cache.put(key, png)
        return png

    def period_params(self, period: data.Period) -> TimelineParams:
        """The dashboard's timeline parameters for the dates of ``period``."""
        return replace(self.params, start=period.start, end=period.end)

    def timeline_chart(self, tl: Timeline) -> bytes:
        """The timeline chart PNG of ``tl``, from the cache when a timeline of the same figures was drawn before
        (a HEAD and its GET, each page view's <img>): matplotlib's drawing is most of the request (benchmarks/head_cost.py)."""
        figures = json.dumps(timeline_to_dict(tl), sort_keys=True, default=str)
        key = ("timeline", tl.site_id, hashlib.sha256(figures.encode()).hexdigest())
        png = self.cache.get(key)
        if png is None:
            with _DRAWING:
                png = charts.timeline_chart_png(tl)
            self.cache.put(key, png)
        return png

    def close_up(self, obs: Observation, detections: Sequence[Detection], n: int) -> bytes:
        """The close-up PNG of the ``n``-th (from 1) of ``obs``'s ``detections``: a window read around its
        centroid, every detection's oriented box outlined; cached by the file and the detections drawn."""
        d = detections[n - 1]
        drawn = hashlib.sha256("\n".join(f"{x.id} {x.kind} {x.footprint.wkt}" for x in detections).encode()).hexdigest()
        key = ("close-up", obs.id, obs.sha256, str(n), drawn)
        png = self.cache.get(key)
        if png is None:
            path = self.archived(obs)
            with _DRAWING:  # no title (the page captions it; a wide one would widen the image): simulated says so
                png = charts.chip_png(path, obs, detections, d.centroid, title=None, size_px=(CLOSE_UP_PX, CLOSE_UP_PX),
                                      margin_m=close_up_margin_m(d, obs.scene.resolution_m), integer_scale=True)  # fmt: skip
            if png is None and not path.is_file():  # removed since archived() found it: gone, not unreadable
                raise NotFound(self.gone(obs))
            if png is None:
                raise ImageReadError(f"cannot read the close-up of detection {n} ({d.id}) of observation {obs.id!r} ({obs.path})")
            self.cache.put(key, png)
        return png


def create_app(
    workspace: Path | str | Workspace,
    *,
    params: TimelineParams | None = None,
    cache: QuicklookCache | None = None,
    max_px: int = QUICKLOOK_PX,
    ais_files: Sequence[Path | str] = (),
    ais_coverage: StatedCoverage | None = None,
    ais_max_gap_s: float | None = None,
    root_path: str = "",
    token: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The dashboard of ``workspace`` as an ASGI app (serve it with uvicorn, test it with TestClient).

    ``params`` are the timeline's (default: ``sitewatch timeline``'s defaults); ``cache`` holds the
    quick-looks (default: 64 MB in memory); ``max_px`` is a quick-look's longer side; ``ais_files``
    settle the links page's links (as ``sitewatch links --ais``), read on each request, covering what
    ``ais_coverage`` states (``--ais-coverage``, ``--ais-period``) if given, placing reports at most
    ``ais_max_gap_s`` apart (``--max-gap-min``; default the AIS matching's own); ``root_path`` is the path a
    reverse proxy serves it under (``/sitewatch``, :func:`check_root_path`), which its links then start with; ``token``,
    if given, is asked of every request but the health check (:mod:`~sitewatch.web.access`); ``allowed_hosts``, if
    given, are the only names a request may be addressed to (``Host``; :class:`~sitewatch.web.access.HostCheck`). The workspace
    must exist and its database be of this sitewatch's schema: it is never migrated or written.
    """
    ws = workspace if isinstance(workspace, Workspace) else open_workspace(Path(workspace))
    first = ws.store(read_only=True)  # fail now, not at the first request
    ais = tuple(Path(f) for f in ais_files)
    for f in ais:
        if not f.is_file():
            first.close()
            raise InputError(f"AIS file {f} does not exist: give an AIS CSV file (as `sitewatch ais --ais` reads)")
    root = check_root_path(root_path)
    dash = Dashboard(ws, params or TimelineParams(), QuicklookCache() if cache is None else cache, max_px, ais, ais_coverage,
                     ais_max_gap_s, root)
    if isinstance(first, PostgisStore) and first.url == ws.store_url:
        dash.pool.give_back(first)  # the first request's
    else:
        first.close()
    app = FastAPI(
        title="sitewatch dashboard",
        version=__version__,
        description="Read-only view of one sitewatch workspace: sites, timelines, observations, detections, changes, alert events, links.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.dashboard = dash
    app.router.on_shutdown.append(dash.pool.close)
    _add_error_handlers(app, dash)
    _add_health(app, dash)
    _add_api(app, dash)
    _add_pages(app, dash)
    _add_pair_routes(app, dash)
    _add_addresses_without_id(app)
    declare_errors(app, bearer=token is not None)
    app.add_middleware(HeadAsGet)
    if token is not None:
        app.add_middleware(TokenGuard, token=token, root=root, open_paths=(HEALTH_PATH,))
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, names=tuple(allowed_hosts))
    if root:
        app.add_middleware(StripRootPath, root=root)
    # Outermost, round Starlette's own outermost layer too (ServerErrorMiddleware, which sends the 500 of
    # :func:`_add_error_handlers`' handler of the unforeseen): on every answer, errors and HEADs included.
    stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(stack())  # type: ignore[method-assign]
    return app


HEALTH_PATH = "/healthz"
"""The address a proxy or a monitor asks whether the dashboard can read its store (JSON; 200 or 503)."""


def _add_health(app: FastAPI, dash: Dashboard) -> None:
    @app.get(HEALTH_PATH, include_in_schema=False)
    def health() -> dict[str, Any]:
        # The store opened and asked, as a page would: a PostGIS server down, a GeoPackage gone or locked is the
        # 503 the error handlers say, naming it; a store migrated by a newer sitewatch since the start is one too.
        with dash.store() as store:
            version = store.schema_version()
            location = store.location
        if version != SCHEMA_VERSION:
            raise StoreError(f"the workspace's store {location} is at schema version {version}, this dashboard reads "
                             f"version {SCHEMA_VERSION}: restart `sitewatch serve` with the sitewatch that migrated it")  # fmt: skip
        return {"status": "ok", "sitewatch": __version__, "schema_version": version}


HEAD_SCOPE_KEY = "sitewatch.head"
"""Set in the scope of a HEAD request :class:`HeadAsGet` passes on as a GET: what :class:`ArchivedFile` looks at."""


class HeadAsGet:
    """ASGI middleware answering HEAD as GET without the body, which every general-purpose server must (RFC 9110):
    FastAPI's GET routes answer it 405. The headers, Content-Length included, are the GET's. A file
    (:class:`ArchivedFile`) is not read for it; a PNG is drawn (once: it is kept, as the GET's is)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_SCOPE_KEY: True}, receive, headers_only)


class ArchivedFile(FileResponse):
    """A file served as Starlette serves it (Content-Length, Last-Modified, ETag from its size and time, ranges),
    and to a HEAD that :class:`HeadAsGet` made a GET, its headers only, the file not read (a 200 MB image was
    read through for nothing).

    A GET opens the file once, before anything is sent, and takes its headers from that open file (``fstat``)
    and its bytes from it: an image replaced (ingested again) or deleted (``observations remove``, ``sites remove --with-observations``)
    while it is sent is downloaded whole, as it was when opened. Starlette opened it again by its name after
    sending the headers: the old file's length and tag came with the new file's bytes (the connection then
    broken halfway, "Too much data for declared Content-Length"), or nothing after the headers for one deleted.
    A file gone before it could be opened answers 404 with ``gone``, not a 500.
    """

    def __init__(self, path: Path, *, gone: str, media_type: str, filename: str) -> None:
        super().__init__(path, media_type=media_type, filename=filename)
        self.gone = gone
        self._opened: anyio.AsyncFile[bytes] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get(HEAD_SCOPE_KEY):
            try:
                self.stat_result = await anyio.to_thread.run_sync(os.stat, self.path)
            except FileNotFoundError as exc:
                raise NotFound(self.gone) from exc
            self.set_stat_headers(self.stat_result)
            # Starlette's FileResponse then sends the headers alone
            await super().__call__({**scope, "method": "HEAD"}, receive, send)
            return
        try:
            opened = await anyio.open_file(self.path, mode="rb")
        except FileNotFoundError as exc:
            raise NotFound(self.gone) from exc
        try:
            self.stat_result = os.fstat(opened.wrapped.fileno())
            self.set_stat_headers(self.stat_result)
            self._opened = opened
            # Sent from the file opened here (_open_file), never by its name: a server's pathsend would open it again.
            extensions = {k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"}
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            with anyio.CancelScope(shield=True):  # closed even when the client went away mid-download
                await opened.aclose()

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # Starlette (1.x) reads the body, each range's too, from what this gives, and closes it after: the file
        # opened in __call__ (closed there).
        assert self._opened is not None
        await self._opened.seek(0)
        yield self._opened


SITES_PER_PAGE = 200
"""Rows of the dashboard's list of sites a page shows: a port list of 4,000 was one page of 790 kB."""


def sites_on_page(sites: list[dict[str, Any]], page: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The sites the index's ``page`` (1, 2…; None: the first) shows, and how it lies among the pages (None: one page).

    A list longer than a page puts the sites with observations first, so they are on the first pages
    rather than scattered among thousands without imagery; a list of one page keeps the order by id."""
    if page is not None and not (page.isascii() and page.isdigit() and len(page) <= 9 and int(page) >= 1):
        shown = page if len(page) <= 12 else f"{page[:12]}…"
        raise BadId(f"refused page {shown!r}: a page of the site list is a number from 1")
    n = int(page or 1)
    pages = max(-(-len(sites) // SITES_PER_PAGE), 1)
    if n > pages:
        raise NotFound(f"no page {n} of the site list: its {len(sites):,} sites fill {pages} page(s)")
    if pages == 1:
        return sites, None
    ordered = sorted(sites, key=lambda s: not s["observations"])  # stable: by id within each part
    imaged = len(sites) - sum(not s["observations"] for s in sites)
    first = (n - 1) * SITES_PER_PAGE
    return ordered[first:first + SITES_PER_PAGE], {
        "page": n, "pages": pages, "first": first + 1, "last": min(first + SITES_PER_PAGE, len(sites)),
        "total": len(sites), "imaged": imaged,
    }  # fmt: skip


def drawn_png(request: Request, body: bytes) -> Response:
    """A PNG the dashboard drew (a quick-look, a close-up, a timeline chart) with an ETag of its bytes:
    a browser showing the page again asks with If-None-Match and gets 304 without the image (they came
    whole on every view: 100-400 kB each, a dozen on a site's page).

    ``Cache-Control: no-cache`` has it ask each time, so a chart redrawn after a new detect is seen at once.
    """
    tag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    asked = {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}
    if tag in asked or "*" in asked:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/png", headers=headers)


_ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (BadId, 400),
    (ImageReadError, 500),
    (StoreError, 503),
    (InputError, 503),  # not the request's (BadId is its 400): an AIS file of `serve --ais` gone or damaged since
)
"""The errors answered with a status of their own, their message as the detail (the most specific class wins)."""


def _add_error_handlers(app: FastAPI, dash: Dashboard) -> None:
    def reply(request: Request, status: int, message: str, *, retry: bool = False) -> Response:
        # JSON for the API and for files (an <img> shows no page); a page for a page.
        path = route_path(request, dash.root)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if retry else None
        if path == HEALTH_PATH and request.scope.get(UNSIGNED_SCOPE_KEY):  # a monitor's, by a guarded dashboard
            logging.getLogger(__name__).error("%s: %s", HEALTH_PATH, message)
            message = ("the workspace's store cannot be read: its reason, naming the store, is given to a request with "
                       "the access token (`Authorization: Bearer TOKEN`) and in the server's log")
        if path.startswith("/api/") or path == HEALTH_PATH or path.endswith((".png", ".tif")):
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        response = dash.page("error.html.j2", simulated=False, status=status, message=message, heading=str(status))
        response.headers.update(headers or {})
        return response

    def answer(status: int) -> Callable[[Request, Exception], Response]:
        return lambda request, exc: reply(request, status, str(exc))

    for error, status in _ERROR_STATUS:
        app.add_exception_handler(error, answer(status))

    @app.exception_handler(StoreUnavailableError)
    def unreachable(request: Request, exc: StoreUnavailableError) -> Response:
        # The PostGIS server stopped, restarting or too busy: it passes, and the next request connects anew.
        return reply(request, 503, f"the workspace's store {exc.location} cannot be reached at the moment ({exc.reason}): "
                                   "check that its PostgreSQL server is running and accepts connections; the dashboard "
                                   f"connects again at the next request, so it answers again as soon as the server does "
                                   f"(no restart needed): try again in {RETRY_AFTER_S} s", retry=True)  # fmt: skip

    @app.exception_handler(HTTPException)
    def no_route(request: Request, exc: HTTPException) -> Response:
        # A mistyped or outdated address: a page with the dashboard's links, not {"detail":"Not Found"} in the browser.
        path = route_path(request, dash.root)
        if exc.status_code == 404 and path.startswith("/api/"):
            return reply(request, 404, f"no API endpoint at {path}: /openapi.json lists them")
        if exc.status_code == 404:
            return reply(request, 404, f"no page at {path} in this dashboard: start from its sites page")
        response = reply(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405's Allow (RFC 9110 requires it)
        if response.headers.get("allow") == "GET":
            response.headers["allow"] = "GET, HEAD"  # HeadAsGet answers it
        return response

    def out_of_memory(request: Request, exc: BaseException) -> Response:
        # A request that ran out of memory (a quick-look of a large image on a small VM): it may pass once others end.
        logging.getLogger(__name__).error("%s: out of memory (%s: %s)", request.url.path, type(exc).__name__, exc)
        return reply(request, 503, f"the server ran out of memory answering this request ({type(exc).__name__}: {exc}): "
                                   "try again once other requests end, or give the server more memory (README, "
                                   '"Memory")', retry=True)  # fmt: skip

    app.add_exception_handler(MemoryError, out_of_memory)

    @app.exception_handler(ImportError)
    def no_room_to_load(request: Request, exc: ImportError) -> Response:
        # A library loaded on first use (scipy for a timeline) that the loader had no room to map: memory, not a bug.
        if NO_ROOM_TO_LOAD.search(str(exc)):
            return out_of_memory(request, exc)
        return unforeseen(request, exc)

    @app.exception_handler(Exception)
    def unforeseen(request: Request, exc: Exception) -> Response:
        # Starlette's own answer is text/plain "Internal Server Error": not JSON under /api/, no links on a page.
        # The traceback stays in the server's log (Starlette re-raises after this answer).
        return reply(request, 500, f"internal error ({type(exc).__name__}: {exc}); the server's log has the details")

    @app.exception_handler(sqlite3.DatabaseError)
    def unreadable(request: Request, exc: sqlite3.DatabaseError) -> Response:
        # "database is locked" while a stage writes for longer than the busy timeout: it passes
        if "locked" in str(exc) or "busy" in str(exc):
            return reply(request, 503, f"the workspace database cannot be read at the moment ({exc}); try again", retry=True)
        # A damaged file opens when its first pages read, then fails mid-query ("disk image is malformed"): it stays
        return reply(request, 503, f"the workspace database {dash.ws.db_path} cannot be read ({exc}): it may be damaged; "
                                   "check it with `sqlite3 FILE 'PRAGMA integrity_check'` and restore it from a backup")  # fmt: skip


FROM = Query(None, alias="from", description="First date (a UTC date, or a local one as `serve --utc-offset` has "
                                               "them; any form `sitewatch timeline --from` reads): default every date")
TO = Query(None, alias="to", description="Last date (as `from`): default every date")
_PERIOD_KEEPS = "`from` and `to` (dates, each optional) keep the dates of that period alone, as `sitewatch timeline --from/--to` does"
_PERIOD_ERRORS = "A bad date is a 400 naming it; a `to` before `from` is a period holding no date (an answer with none)."
PERIOD_DESCRIPTION = f"{_PERIOD_KEEPS}: a site with years of daily images is read for those dates only. {_PERIOD_ERRORS}"
CHANGES_PERIOD_DESCRIPTION = (f"{_PERIOD_KEEPS}: the pairs whose after-image counts for one of them, as the site page shows "
                              f"them; without them every pair. {_PERIOD_ERRORS}")  # fmt: skip
ALERTS_PERIOD_DESCRIPTION = (f"{_PERIOD_KEEPS}: the events whose date is one of them, as the site page shows them; without "
                             f"them every event. {_PERIOD_ERRORS}")  # fmt: skip


def _date_in(value: Any, period: data.Period) -> bool:
    """Whether a stored ``YYYY-MM-DD`` date lies in ``period`` (one that is not a date is shown: it is not ours to hide)."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return True
    return not ((period.start and day < period.start) or (period.end and day > period.end))


def _site_id(site_id: str) -> str:
    return check_id(site_id, "site")


def _without_trailing_slash(prefix: str, page_id: str, root: str) -> RedirectResponse | None:
    """A permanent redirect to the page without the slash at the end of ``page_id`` (``/sites/dunai/``, as a
    browser or a hand may write it), as static sites answer; None when there is none to drop."""
    if page_id.endswith("/") and page_id.rstrip("/"):
        return RedirectResponse(f"{root}{prefix}/{quote(page_id.rstrip('/'), safe='/')}", status_code=308)
    return None


def _observation_id(observation_id: str) -> str:
    return check_id(observation_id, "observation", parts=None)


def _pair_id(pid: str) -> str:
    return check_id(pid, "change pair", parts=None)


def _doc(model: Any) -> dict[str, Any]:
    """A route's arguments declaring ``model`` (of :mod:`~sitewatch.web.schemas`) as its answer in the doc only:
    the dict a route returns is sent as it is, not validated against the model or cut to it."""
    return {"response_model": None, "responses": {200: {"model": model}}}


def _add_api(app: FastAPI, dash: Dashboard) -> None:
    @app.get("/api/sites", tags=["api"], summary="The sites with their counts and date ranges, a page at a time (by id)",
             description="`limit` sites (default 200) from `offset` (default 0), with `numberMatched` (every site), "
                         "`numberReturned` and `links`: follow the `next` link until there is none.",
             **_doc(schemas.SitesPage))  # fmt: skip
    def api_sites(request: Request, limit: str | None = None, offset: str | None = None) -> dict[str, Any]:
        with dash.store() as store:
            sites = data.site_summaries(store)
        return page_of(sites, "sites", request.url.replace(path=dash.root + route_path(request, dash.root)), limit, offset)

    @app.get("/api/sites/{site_id:path}/timeline", tags=["api"], summary="The site's occupancy timeline, as `sitewatch timeline --json`",
             description=PERIOD_DESCRIPTION)  # fmt: skip
    def api_timeline(site_id: str, start: str | None = FROM, end: str | None = TO) -> dict[str, Any]:
        period = data.asked_period(start, end, reversed_empty=True)
        with dash.store() as store:
            if period.empty:
                return data.empty_timeline(store, _site_id(site_id), dash.params, period)
            return data.site_timeline(store, _site_id(site_id), dash.period_params(period))

    @app.get("/api/sites/{site_id:path}/detections", tags=["api"], response_class=GeoJSONResponse,
             summary="The site's detections as GeoJSON, as `sitewatch export` writes them", description=PERIOD_DESCRIPTION,
             **_doc(schemas.FeatureCollection))  # fmt: skip
    def api_detections(site_id: str, start: str | None = FROM, end: str | None = TO) -> GeoJSONResponse:
        period = data.asked_period(start, end, reversed_empty=True)
        with dash.store() as store:
            if period.empty:
                data.find_site(store, _site_id(site_id))
                fc: dict[str, Any] = {"type": "FeatureCollection", "features": []}
            else:
                fc = data.site_detections(store, _site_id(site_id), dash.period_params(period))
        return GeoJSONResponse(fc)

    @app.get("/api/sites/{site_id:path}/changes", tags=["api"], **_doc(list[schemas.ChangePairSummary]),
             summary="The site's stored changes (`sitewatch change`): pairs and regions (GeoJSON)",
             description=CHANGES_PERIOD_DESCRIPTION)  # fmt: skip
    def api_changes(site_id: str, start: str | None = FROM, end: str | None = TO) -> list[dict[str, Any]]:
        period = data.asked_period(start, end, reversed_empty=True)
        with dash.store() as store:
            if not period.asked:
                return data.site_changes(store, _site_id(site_id))
            if period.empty:
                data.find_site(store, _site_id(site_id))
                return []
            # A pair is of the date of its after-image, as the site page's table keeps it: the period's read alone.
            return data.period_changes(store, _site_id(site_id), dash.period_params(period))

    @app.get("/api/sites/{site_id:path}/alerts", tags=["api"], **_doc(list[schemas.AlertEvent]),
             summary="The site's recorded alert events (`sitewatch alerts check`)", description=ALERTS_PERIOD_DESCRIPTION)  # fmt: skip
    def api_alerts(site_id: str, start: str | None = FROM, end: str | None = TO) -> list[dict[str, Any]]:
        period = data.asked_period(start, end, reversed_empty=True)
        with dash.store() as store:
            events = data.site_alerts(store, _site_id(site_id))
        if period.empty:
            return []
        return [e for e in events if _date_in(e.get("date"), period)] if period.asked else events

    @app.get("/api/links", tags=["api"], summary="Candidate links among all sites, as `sitewatch links --json`")
    def api_links() -> dict[str, Any]:
        with dash.store() as store:
            return data.links_data(store, dash.ws.root, dash.ais_files, dash.ais_coverage, dash.ais_max_gap_s)

    # After the routes above: a {site_id:path} would take their suffixes for part of the id.
    @app.get("/api/sites/{site_id:path}", tags=["api"], summary="One site: its geometry, berths and observations",
             description=PERIOD_DESCRIPTION, **_doc(schemas.SiteDetail))  # fmt: skip
    def api_site(site_id: str, start: str | None = FROM, end: str | None = TO) -> dict[str, Any]:
        period = data.asked_period(start, end, reversed_empty=True)
        with dash.store() as store:
            if period.empty:
                return data.site_detail(store, _site_id(site_id), dash.params, empty=period)
            return data.site_detail(store, _site_id(site_id), dash.period_params(period))

    @app.get("/api/observations/{observation_id:path}", tags=["api"], **_doc(schemas.ObservationDetail),
             summary="One observation: provenance, grid and detections (GeoJSON features)")  # fmt: skip
    def api_observation(observation_id: str) -> dict[str, Any]:
        with dash.store() as store:
            return data.observation_detail(store, _observation_id(observation_id))


def _add_pages(app: FastAPI, dash: Dashboard) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def sites_page(page: str | None = None) -> HTMLResponse:
        with dash.store() as store:
            sites = data.site_summaries(store)
        shown, paging = sites_on_page(sites, page)
        return dash.page("sites.html.j2", simulated=any(s["simulated"] for s in sites), sites=shown, paging=paging)

    @app.get("/sites/{site_id:path}/timeline.png", include_in_schema=False)
    def timeline_png(site_id: str, request: Request, start: str | None = FROM, end: str | None = TO) -> Response:
        with dash.store() as store:
            sid = _site_id(site_id)
            data.find_site(store, sid)
            # The page's period (its default too, so that the chart and the tables show the same dates).
            params = dash.period_params(data.site_period(store, sid, start, end, dash.params))
            tl = data.load_site_timeline(store, sid, params)
        return drawn_png(request, dash.timeline_chart(tl))

    @app.get("/sites/{site_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def site_page(site_id: str, start: str | None = FROM, end: str | None = TO) -> Response:
        if moved := _without_trailing_slash("/sites", site_id, dash.root):  # /sites/dunai/, as a browser or a hand may write it
            return moved
        with dash.store() as store:
            site = data.find_site(store, _site_id(site_id))
            # Years of daily images: the page shows one period (the last DEFAULT_PERIOD_DAYS unless asked), read alone.
            period = data.site_period(store, site.id, start, end, dash.params)
            params = dash.period_params(period)
            records = data.load_period_records(store, site.id, params, site_geometry=site.geometry)
            tl = build_timeline(site.id, records.observations, records.detections, params, site_name=site.name,
                                undetected=records.undetected, site_geometry=site.geometry)  # fmt: skip
            observations = [o for o in records.observations if in_period(o, params)]
            kept = {o.id for o in observations}
            detections = [d for d in records.detections if d.observation_id in kept]
            counts = Counter(d.observation_id for d in detections)
            rows = [data.observation_row(o, counts[o.id]) for o in observations]
            kept_pairs = data.period_pairs(store, site.id, params, kept)
            pairs = [data.change_pair_dict(p, rs) for p, rs in kept_pairs]
            alerts = [e for e in data.site_alerts(store, site.id) if _date_in(e.get("date"), period)]
            regions = data.pairs_regions(kept_pairs)
            dated = dated_lines(records.observations, kept_pairs)
            months = data.site_months(store, site.id, dash.params)
        page_of_month = f"{dash.root}/sites/{quote(site.id, safe='/')}?from={{}}&to={{}}"
        shown = (period.start or period.first, period.end or period.last)
        overview = months_svg(
            months, lambda m: page_of_month.format(m["from"], m["to"]), label=f"Every month of {site.name or site.id}",
            shown=(shown[0].strftime("%Y-%m"), shown[1].strftime("%Y-%m")) if shown[0] and shown[1] else None,
        ) if len(months) > 1 else ""  # fmt: skip
        imagery, note = imagery_lines(observations, dash.params.utc_offset_hours) if observations else ([], "")
        inland = inland_without_vessels(site, detections)
        # The chart is drawn here, not only when its <img> asks (the cache then answers that): the page
        # gives its size, so its box is laid out before it loads and a phone is told that it scrolls.
        chart_size = None if inland else charts.png_size(dash.timeline_chart(tl))
        # Each region on the map leads to its row on its pair's page.
        region_href = {r["id"]: f"{dash.root}/changes/{quote(p['id'], safe='/')}#region-{n}"
                       for p in pairs for n, r in enumerate(p["regions"], start=1)}  # fmt: skip
        if site.geometry is None:  # a gazetteer place not located: no area to draw (nor to ingest into)
            crs, map_svg = "", ""
        else:
            crs = site_crs(site, [o.grid for o in observations])
            # Named as the report's map is (its berths, its detections by kind, its regions by direction): "map
            # of dunai with berths and detections" said so of a site with neither, and nothing of its regions.
            map_svg = site_svg(site, detections, crs, href=lambda i, d: f"{dash.root}/observations/{quote(d.observation_id, safe='/')}",
                               changes=regions, change_href=lambda i, c: region_href.get(c.id, "#changes"),
                               label=map_alt(site, detections, any(o.scene.simulated for o in observations), regions))  # fmt: skip
        return dash.page(
            "site.html.j2", simulated=any(o.scene.simulated for o in observations), site=site, timeline=tl,
            imagery=imagery, revisit_note=note, map_svg=map_svg, crs=crs, detections=len(detections),
            observations=rows, date_zone=date_zone(dash.params.utc_offset_hours), changes=pairs, alerts=alerts,
            regions=len(regions), inland=inland, chart_size=chart_size, period=period, query=period.query(),
            default_days=data.DEFAULT_PERIOD_DAYS, overview=overview, dated=dated,
        )  # fmt: skip

    @app.get("/links", response_class=HTMLResponse, include_in_schema=False)
    def links_page() -> HTMLResponse:
        with dash.store() as store:
            doc = data.links_data(store, dash.ws.root, dash.ais_files, dash.ais_coverage, dash.ais_max_gap_s)
            simulated = any(s["simulated"] for s in data.site_summaries(store))
        return dash.page("links.html.j2", simulated=simulated, links=doc)

    @app.get("/observations/{observation_id:path}/quicklook.png", include_in_schema=False)
    def quicklook(observation_id: str, request: Request) -> Response:
        with dash.store() as store:
            obs = data.find_observation(store, _observation_id(observation_id))
            window = site_window(store, obs)
        return drawn_png(request, dash.quicklook(obs, window))

    @app.get("/observations/{observation_id:path}/detections/{number}.png", include_in_schema=False)
    def close_up(observation_id: str, number: str, request: Request) -> Response:
        if not number.isascii() or not number.isdigit():
            raise BadId(f"refused detection number {number!r}: not a number (a detection's row in its observation's table)")
        with dash.store() as store:
            obs = data.find_observation(store, _observation_id(observation_id))
            detections = store.detections(observation_id=obs.id)
        # Compared as text first: Python will not read an int of more than 4300 digits (a 500, not a 404).
        n = int(number) if len(number.lstrip("0")) <= len(str(len(detections))) else len(detections) + 1
        if not 1 <= n <= len(detections):
            shown = number if len(number) <= 12 else f"{number[:12]}… ({len(number)} digits)"
            raise NotFound(f"no detection {shown} in observation {obs.id!r} (it has {len(detections)})")
        return drawn_png(request, dash.close_up(obs, detections, n))

    @app.get("/observations/{observation_id:path}/image.tif", include_in_schema=False)
    def image(observation_id: str) -> FileResponse:
        with dash.store() as store:
            obs = data.find_observation(store, _observation_id(observation_id))
        path = dash.archived(obs)
        return ArchivedFile(path, gone=dash.gone(obs), media_type="image/tiff", filename=path.name)

    @app.get("/observations/{observation_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def observation_page(observation_id: str) -> Response:
        if moved := _without_trailing_slash("/observations", observation_id, dash.root):
            return moved
        with dash.store() as store:
            obs = data.find_observation(store, _observation_id(observation_id))
            detections = store.detections(observation_id=obs.id)
            undetected = obs.id in store.undetected(obs.site_id)
            window = site_window(store, obs)
        rows = [
            {
                "id": d.id, "kind": d.kind, "length_m": d.length_m, "width_m": d.width_m, "heading_deg": d.heading_deg,
                "score": d.score, "berth": d.berth_id or "", "candidates": candidates_text(d), "truncated": d.truncated,
                "lon": d.centroid.x, "lat": d.centroid.y, "detector": f"{d.detector} {d.detector_version}",
            }
            for d in detections
        ]  # fmt: skip
        # A site-wide quick-look shows a 100 m ship as a few pixels: a close-up of each, strongest first.
        ranked = sorted(range(1, len(rows) + 1), key=lambda n: (-rows[n - 1]["score"], n))
        close_ups = [{"n": n, **rows[n - 1]} for n in ranked[:MAX_CLOSE_UPS]]
        shown_grid = obs.grid if window is None else window_grid(obs.grid, (window[1], window[1] + window[3], window[0], window[0] + window[2]))
        ql_rows, ql_cols = quicklook_shape(shown_grid.width, shown_grid.height, dash.max_px, WINDOW_MIN_PX)
        return dash.page(
            "observation.html.j2", simulated=obs.scene.simulated, obs=obs, detections=rows,
            label=acquired_label(obs), label_seconds=acquired_label(obs, seconds=True), by_kind=by_kind(detections),
            outlined=by_kind(detections, lengths=True),
            overlay_svg=overlay_svg(shown_grid, detections), ql_rows=ql_rows, ql_cols=ql_cols, undetected=undetected,
            margin_m=obs.provenance.get("context_m") if window is not None else None,
            detectors=sorted({r["detector"] for r in rows}), close_ups=close_ups,
            close_ups_omitted=len(rows) - len(close_ups), close_up_min_px=CLOSE_UP_MIN_IMAGE_PX,
            shown={c["n"] for c in close_ups}, credit=credit_text(scene_credit(obs.scene)),
        )  # fmt: skip


def site_window(store: Store, obs: Observation) -> PixelWindow | None:
    """The pixels of the site's box in an observation archived with a margin of image around its site (a small
    site's: :func:`~sitewatch.detection_masks.has_context`), which its quick-look shows as the report's chips show
    the site; None for any other (the whole image is the site's box)."""
    if not has_context(obs):
        return None
    site = store.get_site(obs.site_id)
    return bounds_window(obs.grid, reproject_geometry(site.require_geometry(), "EPSG:4326", obs.grid.crs).bounds)


_ID_NAMES: dict[str, tuple[str, str]] = {
    "site_id": ("a site", "/api/sites"),
    "observation_id": ("an observation", "/api/sites/{site_id}"),
    "pair_id": ("a change pair", "/api/sites/{site_id}/changes"),
}
"""What each id parameter names, and the API route that lists its ids."""


def _add_addresses_without_id(app: FastAPI) -> None:
    """Answer at once an address that stops where its id would begin (``/api/observations``, ``/changes``): 404
    naming the id it lacks. Starlette redirected it (307) to the same address with a "/", whose empty id then
    answered 400; the OpenAPI doc has no such path (only ``/api/observations/{observation_id}``)."""
    taken = {getattr(r, "path", None) for r in app.routes}
    for route in list(app.routes):
        found = re.fullmatch(r"(/.+)/\{(\w+):path\}", getattr(route, "path", ""))
        if found is None or found.group(1) in taken or found.group(2) not in _ID_NAMES:
            continue
        prefix, name = found.groups()
        what, listed = _ID_NAMES[name]
        if prefix.startswith("/api/"):
            message = (f"no API endpoint at {prefix}: {what}'s is {prefix}/{{{name}}}, with its id (as {listed} "
                       "lists them); /openapi.json lists the endpoints")  # fmt: skip
        else:
            message = f"no page at {prefix} in this dashboard: {what}'s page is {prefix}/ID, linked from its site's page; start from the sites page"
        app.add_api_route(prefix, _missing_id(message), methods=["GET"], include_in_schema=False)
        taken.add(prefix)


def _missing_id(message: str) -> Callable[[], Response]:
    def missing() -> Response:
        raise NotFound(message)

    return missing


def _add_pair_routes(app: FastAPI, dash: Dashboard) -> None:
    def missing(view: PairView, side: Side) -> str | None:
        """Why the ``side`` image of the pair cannot be shown; None when it can."""
        o, oid = view.observations[side], getattr(view.pair, f"{side}_id")
        if o is None:
            return f"the {side} image cannot be shown: observation {oid!r} is no longer in this workspace"
        if view.windows[side] is None:
            return f"the {side} image ({o.path}) does not cover the ground of this pair's regions"
        try:
            dash.archived(o)
        except NotFound as exc:
            return f"the {side} image cannot be shown: {exc}"
        return None

    def shown(pid: str) -> tuple[PairView, dict[str, Any]]:
        with dash.store() as store:
            view = load_pair(store, _pair_id(pid))
        return view, pair_detail(view, {side: missing(view, side) for side in SIDES})

    @app.get("/api/changes/{pair_id:path}", tags=["api"], **_doc(schemas.ChangePairDetail),
             summary="One stored change pair (BEFORE..AFTER): both images' provenance, the regions (GeoJSON), the ground shown")  # fmt: skip
    def api_pair(pair_id: str) -> dict[str, Any]:
        return shown(pair_id)[1]

    def pair_png(pid: str, side: Side, request: Request) -> Response:
        view, doc = shown(pid)
        if doc["images"][side]["missing"]:
            raise NotFound(doc["images"][side]["missing"])
        obs, window = view.observations[side], view.windows[side]
        assert obs is not None and window is not None  # else missing() said so
        return drawn_png(request, dash.quicklook(obs, window))

    @app.get("/changes/{pair_id:path}/before.png", include_in_schema=False)
    def before_png(pair_id: str, request: Request) -> Response:
        return pair_png(pair_id, "before", request)

    @app.get("/changes/{pair_id:path}/after.png", include_in_schema=False)
    def after_png(pair_id: str, request: Request) -> Response:
        return pair_png(pair_id, "after", request)

    @app.get("/changes/{pair_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def pair_page(pair_id: str) -> Response:
        if moved := _without_trailing_slash("/changes", pair_id, dash.root):
            return moved
        view, doc = shown(pair_id)
        with dash.store() as store:
            site = data.find_site(store, view.pair.site_id)
        shapes = {side: quicklook_shape(w[2], w[3], dash.max_px, WINDOW_MIN_PX) if (w := view.windows[side]) else None
                  for side in SIDES}  # fmt: skip
        # A missing image keeps its place: a blank of the shape the other has (of the view when neither can be read).
        fallback = next((s for s in shapes.values() if s), None)
        overlay = changes_overlay_svg(view.bounds, view.crs, view.regions) if view.bounds and view.crs else ""
        return dash.page(
            "pair.html.j2", simulated=view.pair.simulated, p=doc, site=site, overlay_svg=overlay,
            shapes={side: shapes[side] or fallback for side in SIDES},
            centroids=[(r.polygon.centroid.x, r.polygon.centroid.y) for r in view.regions],
        )  # fmt: skip
