"""``sitewatch search``: what a STAC catalogue holds over sites in a period."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import setting_origin, settings_used_by
from ..fetch_options import GROUP_KM, FetchOptions
from ..model import iso_utc
from ..sources.stac import SEARCH_CACHE_HOURS, Catalog, resolve_catalog
from ..workspace import Workspace, open_workspace
from .completers import complete_site_ids
from .options import (
    DateOrTime,
    FiniteFloatRange,
    OnceCommand,
    all_rows_option,
    check_date_order,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
    sites_asked,
    workspace_option,
)
from .output import (
    TERMINAL_ROWS,
    add_id_column,
    echo_json,
    echo_wrapped,
    not_shown_line,
    print_table,
    rows_shown,
)

if TYPE_CHECKING:
    from ..fetch import Candidate

F = Callable[..., Any]


@dataclass(frozen=True)
class StacQuery:
    """What the options ``search`` and ``fetch`` share said (``query`` of both commands)."""

    catalog_name: str | None
    """``--catalog`` (None: the ``catalog`` setting)."""
    collection: str
    """``--collection``."""
    start: datetime
    """``--from``."""
    end: datetime
    """``--to``."""
    max_cloud: float | None
    """``--max-cloud`` (None: not given)."""
    refresh: bool
    """``--refresh``."""
    group_km: float
    """``--group-km``."""

    def options(self, **more: Any) -> FetchOptions:
        """The :class:`~sitewatch.fetch_options.FetchOptions` these flags and ``more`` (the command's own) make;
        ``max_cloud`` is the command's to give (``fetch`` falls back on the setting, ``search`` filters after)."""
        return FetchOptions(self.collection, self.start, self.end, refresh=self.refresh, group_km=self.group_km, **more)


def stac_query_options(func: F) -> F:
    """The options ``search`` and ``fetch`` share, declared once, given to the command as one ``query``
    (:class:`StacQuery`)."""
    options = [
        click.option("--catalog", "catalog_name", help="earth-search, planetary-computer, cdse, a [catalogs.NAME] "
                     "from sitewatch.toml, a STAC API URL, or a static catalogue on disk (its catalog.json, its "
                     "folder or a file:// URL). Default: the `catalog` setting."),
        click.option("--collection", required=True, help="Collection id (sentinel-2-l2a, sentinel-1-rtc, "
                     "sentinel-1-grd, landsat-c2-l2) or s2 / s1 (RTC where the catalogue has it) / landsat."),
        click.option("--from", "start", type=DateOrTime("start"), required=True, metavar="DATE",
                     help="Start date or time (UTC): 2024-10-01, 20241001 or 2024-10-01T09:30Z."),
        click.option("--to", "end", type=DateOrTime("end"), required=True, metavar="DATE",
                     help="End date or time (UTC); a date includes its whole day."),
        click.option("--max-cloud", type=FiniteFloatRange(0, 100), default=None,
                     help="Highest cloud % over the site (SCL/QA inside the site polygon, not the scene)."),
        click.option("--refresh", is_flag=True, help="Ask the catalogue again instead of the cached search."),
        click.option("--group-km", type=FiniteFloatRange(0, 1000), default=GROUP_KM, show_default=True,
                     help="Several sites: those whose common bounding box fits in a square of this side (km) are "
                     "asked for in one search; 0 asks once a site."),
    ]  # fmt: skip

    @functools.wraps(func)
    def with_query(
        *args: Any, catalog_name: str | None, collection: str, start: datetime, end: datetime,
        max_cloud: float | None, refresh: bool, group_km: float, **kwargs: Any,
    ) -> Any:
        query = StacQuery(catalog_name, collection, start, end, max_cloud, refresh, group_km)
        return func(*args, query=query, **kwargs)

    wrapped: F = with_query
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def chosen_catalog(ws: Workspace, catalog_name: str | None, settings: Mapping[str, Any]) -> Catalog:
    """The catalogue ``--catalog`` names, else the ``catalog`` setting; an unknown name is told
    where it came from (the flag, ``SITEWATCH_CATALOG`` or sitewatch.toml)."""
    origin = "--catalog" if catalog_name else setting_origin("catalog", ws.root)
    # A catalogue on disk named in sitewatch.toml counts from the workspace, as a [catalogs.NAME] url does;
    # given by the flag or SITEWATCH_CATALOG, from the current folder.
    in_file = not catalog_name and origin.endswith("[settings] catalog")
    return resolve_catalog(
        catalog_name or settings["catalog"], ws.root, origin=origin, relative_to=ws.root if in_file else None
    )


def cached_search_note(made: Sequence[float | None]) -> str:
    """The lines saying the catalogue was not asked, when some of the searches ``made`` (``time.time()`` of each, None:
    asked now) were answered from the workspace's cache; blank when none was."""
    times = [t for t in made if t is not None]
    if not times:
        return ""
    when = datetime.fromtimestamp(min(times), UTC)
    some = "" if len(times) == len(made) else f"{len(times)} of {len(made)} "
    # Two short lines: a narrow terminal's width (60) without wrapping, which a pipe does not get.
    return (f"{some}searched from the cache ({when:%Y-%m-%d %H:%M} UTC, kept {SEARCH_CACHE_HOURS:g} h):\n"
            "  --refresh asks the catalogue for items published since")


def _orbit(value: Any) -> int | None:
    """The relative orbit as a whole number, or None when the catalogue gives none or text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value) if value == int(value) else None


def _row(c: Candidate) -> dict[str, Any]:
    s = c.scene
    return {
        "item_id": s.item_id,
        "acquired": iso_utc(s.acquired),
        "collection": s.collection,
        "platform": s.platform,
        "orbit": _orbit(s.properties.get("sat:relative_orbit")),
        "scene_cloud_pct": s.cloud_cover,
        "coverage_pct": round(c.coverage * 100, 1),
        "site_valid_pct": round(c.stats.valid_fraction * 100, 1) if c.stats else None,
        "site_cloud_pct": round(c.stats.cloud_fraction * 100, 1)
        if c.stats and c.stats.cloud_fraction is not None
        else None,
        "fetched": c.fetched,
    }


@click.command("search", cls=OnceCommand, short_help="List a STAC catalogue's scenes over sites.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...", shell_complete=complete_site_ids)
@stac_query_options
@click.option("--measure/--no-measure", default=None,
              help="Read the class band over the site to learn cloud/valid % (default: when --max-cloud is given).")  # fmt: skip
@all_rows_option(f"the first {TERMINAL_ROWS} of each site")
@workspace_option
@json_option
@handle_errors
def command(
    site_ids: tuple[str, ...],
    query: StacQuery,
    measure: bool | None,
    show_all: bool,
    workspace: Path,
    as_json: bool,
) -> None:
    """List the catalogue's scenes over SITE (default: every site), with cloud and valid % over the site once known.

    Cloud % over the site comes from Sentinel-2 SCL classes 3, 8, 9, 10 (cloud
    shadow, medium/high-probability cloud, thin cirrus) or Landsat QA_PIXEL
    cloud bits, counted inside the site polygon; it is known once the class
    band has been read (by `--measure`, `--max-cloud` or an earlier fetch).

    Several sites (or none: every site) are asked for in one search a group of
    sites close together (--group-km). With one SITE, --json prints its rows;
    otherwise {"sites": [{"site": ID, "scenes": [...]}, ...]}, a site whose
    search failed with "error" instead. Exit code 3 when some sites' searches
    failed (each named), 1 when all did.
    """
    check_date_order(query.start, query.end)
    ws = open_workspace(workspace)
    settings = ws.settings(names=settings_used_by("search"))
    catalog = chosen_catalog(ws, query.catalog_name, settings)
    options = query.options()
    max_cloud = query.max_cloud
    # rasterio, scipy: imported by the command only, not for --help or a Tab
    from ..fetch import find_scenes, measure_stats_of_sites
    from ..fetch_many import find_scenes_for_sites

    one = len(site_ids) == 1
    found: dict[str, list[Candidate]] = {}
    failed: dict[str, str] = {}
    with ws.store() as store:
        if one:
            site = store.get_site(site_ids[0])
            sites = [site]
            cached: list[float] = []
            found[site.id] = find_scenes(ws, store, site, catalog, options, cached=cached)
            made: list[float | None] = [cached[0] if cached else None]
        else:
            sites = [store.get_site(sid) for sid in sites_asked(store, list(dict.fromkeys(site_ids)), every=True)]
            with progress_bar("searching", is_quiet() or as_json) as progress:
                many = find_scenes_for_sites(ws, store, sites, catalog, options, progress=progress)
            found, failed = many.candidates, many.failed
            made = [many.cached.get(sid) for sid in found]
        if measure or (measure is None and max_cloud is not None):
            searched = [site for site in sites if site.id in found]
            with progress_bar("measuring clouds", is_quiet() or as_json) as progress:
                # An item over several sites: its class band opened once, each site's window read from it.
                measured = measure_stats_of_sites(ws, searched, catalog, found, options, progress=progress)
            for site in searched:
                found[site.id], problems = measured[site.id]
                for item_id, reason in problems:
                    click.echo(f"{item_id}{'' if one else f' over {site.id}'}: site figures unknown: {reason}", err=True)
    if max_cloud is not None:
        found = {sid: [c for c in cands if not (c.stats and c.stats.cloud_fraction is not None
                                                and c.stats.cloud_fraction * 100 > max_cloud)]
                 for sid, cands in found.items()}  # fmt: skip
    rows = {sid: [_row(c) for c in cands] for sid, cands in found.items()}
    for sid, why in failed.items():  # with --json too: standard output may be a script's, this is the user's
        click.echo(f"failed {sid}: {why}", err=True)
    if as_json:
        if one:
            echo_json(rows[sites[0].id], indent=1)
        else:
            echo_json({"sites": [{"site": s.id, "scenes": rows[s.id]} if s.id in rows else
                                             {"site": s.id, "error": failed[s.id]} for s in sites]}, indent=1)  # fmt: skip
    else:
        if not sites:
            click.echo("no site in this workspace: add one with `sitewatch sites add`")
        for site in sites:
            if site.id in rows:
                _print_rows(catalog, query.collection, site.id, rows[site.id], query.start, query.end, show_all)
        if not is_quiet() and (note := cached_search_note(made)):
            click.echo(note)
    if failed:
        raise SystemExit(3 if rows else 1)


def _print_rows(catalog: Catalog, collection: str, site_id: str, rows: list[dict[str, Any]], start: datetime, end: datetime,
                show_all: bool = False) -> None:  # fmt: skip
    """One site's scenes as a table (or the line saying there are none)."""
    if not rows:
        click.echo(f"no scenes of {collection} over {site_id} between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
        return
    from rich.table import Table

    def pct(v: float | None) -> str:
        return "?" if v is None else f"{v:.1f}"

    table = Table(title=f"{catalog.name} · {collection} · {site_id}")
    add_id_column(table, "item", [r["item_id"] for r in rows])
    for col in ("acquired (UTC)", "platform", "orbit", "scene cloud %", "site cover %",
                "site valid %", "site cloud %", "fetched"):  # fmt: skip
        table.add_column(col)
    shown = rows[: rows_shown(len(rows), show_all)]  # on a terminal the first (years of a daily mission: thousands)
    for r in shown:
        when = r["acquired"][:16].replace("T", " ")  # a space to wrap at; seconds say nothing here
        table.add_row(r["item_id"], when, r["platform"], str(r["orbit"] or ""), pct(r["scene_cloud_pct"]),
                      pct(r["coverage_pct"]), pct(r["site_valid_pct"]), pct(r["site_cloud_pct"]),
                      "yes" if r["fetched"] else "")  # fmt: skip
    print_table(table, id_header="item")
    if len(shown) < len(rows):
        echo_wrapped(not_shown_line(len(rows) - len(shown), "more scenes", ", --from/--to a shorter period"))
