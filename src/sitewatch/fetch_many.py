"""Search and fetch for many sites: one catalogue query for each group of sites close together, not one a site.

A team watching 200 ports asked the catalogue 200 times a day (each search paged, each page a request,
Earth Search and Planetary Computer answering 429 to a burst). Sites whose bounding boxes fit together in
a square of ``group_km`` (default 50 km: a harbour's piers, a coast's ports, well inside one Sentinel-2
tile or Sentinel-1 swath) are asked for in one search over their common bounding box, as odc-stac and
pystac-client users do; each returned item is then given to every site of the group that its footprint
(the item's geometry, not its bbox) covers part of, exactly as a search for that site alone would have
given it (:func:`sitewatch.fetch.site_candidates`): the same items, the same coverage, the same
provenance. An item covering two sites is listed once, its assets opened once, and each site's window read from them.

Groups never span the antimeridian: distances are taken in plain longitude, so a site at 179.9° and one
at -179.9° are asked for apart (a common bounding box would circle the globe). An item whose footprint
is split there (a MultiPolygon each side of 180°) is matched to each site by its parts, as before.

A group's search that fails (the catalogue down, 403, retries of 429/5xx exhausted) fails its sites
alone, naming them; the other groups proceed. Retries, ``Retry-After`` and paging are
:func:`sitewatch.sources.stac.search_items`'s, unchanged; so is its cache (by the group's bounding box).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shapely import STRtree
from shapely.errors import ShapelyError
from shapely.geometry import box, shape

from .errors import CredentialError, SiteError, SourceError
from .fetch import (
    Candidate,
    FetchReport,
    _load_stats,
    cache_dir,
    fetch_candidates_of_sites,
    read_items,
    site_candidates,
)
from .fetch_options import GROUP_KM, FetchOptions
from .model import SceneRef, Site
from .sources.stac import Catalog, resolve_collection, search_items
from .store import Store
from .workspace import Workspace

__all__ = ["GROUP_KM", "SiteGroup", "SitesFound", "group_sites", "find_scenes_for_sites", "fetch_sites"]

log = logging.getLogger(__name__)

_KM_PER_DEG = 111.32


@dataclass(frozen=True)
class SiteGroup:
    """Sites asked for in one catalogue search, over their common bounding box."""

    sites: tuple[Site, ...]
    bbox: tuple[float, float, float, float]
    """(west, south, east, north) in degrees, never across the antimeridian."""

    @property
    def site_ids(self) -> tuple[str, ...]:
        """The group's site ids, in the order given."""
        return tuple(s.id for s in self.sites)


@dataclass
class SitesFound:
    """What the searches found for many sites."""

    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    """Site id → its candidates (as :func:`sitewatch.fetch.find_scenes` gives them), for every site whose search answered."""
    refused: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Site id → (item id, reason) of items over it that are no scene sitewatch reads."""
    failed: dict[str, str] = field(default_factory=dict)
    """Site id → why its group's search failed (the message names the group's sites)."""
    searches: int = 0
    """Searches made (one a group)."""
    cached: dict[str, float] = field(default_factory=dict)
    """Site id → when its group's search was made, for the sites whose search was answered from the cache."""


def _span_km(west: float, south: float, east: float, north: float) -> tuple[float, float]:
    """East-west and north-south extent of a box, in km; east-west at the latitude nearest a pole
    (the widest a box is in degrees for a given extent in km is there, so no group is larger than said)."""
    lat = min(max(abs(south), abs(north)), 89.9)
    return (east - west) * _KM_PER_DEG * math.cos(math.radians(lat)), (north - south) * _KM_PER_DEG


def group_sites(sites: Sequence[Site], group_km: float = GROUP_KM) -> list[SiteGroup]:
    """Sites in groups whose common bounding box fits in a ``group_km`` square; ``group_km`` 0: one a site.

    Greedy, in order of longitude: each site joins the first open group it fits in, else opens one; a
    group is closed once the sites left lie too far east of it. Deterministic for a given set of sites
    (their order given does not matter). A site larger than the square is a group of its own."""
    order = sorted(sites, key=lambda s: (s.require_geometry().bounds[0], s.require_geometry().bounds[1], s.id))
    groups: list[tuple[list[Site], list[float]]] = []
    open_: list[int] = []
    for site in order:
        w, s, e, n = site.require_geometry().bounds
        if group_km > 0:
            still: list[int] = []
            joined = False
            for k in open_:
                members, bb = groups[k]
                merged = (min(bb[0], w), min(bb[1], s), max(bb[2], e), max(bb[3], n))
                dx, dy = _span_km(*merged)
                if not joined and dx <= group_km and dy <= group_km:
                    members.append(site)
                    bb[:] = merged
                    joined = True
                # Sites come in order of their west edge: a group this far west of one takes no later site (at
                # the latitude nearest a pole that a site it could take may reach, where degrees are fewest km).
                reach = group_km / _KM_PER_DEG
                if _span_km(bb[0], bb[1] - reach, w, bb[3] + reach)[0] <= group_km:
                    still.append(k)
            open_ = still
            if joined:
                continue
        groups.append(([site], [w, s, e, n]))
        open_.append(len(groups) - 1)
    return [SiteGroup(tuple(members), (bb[0], bb[1], bb[2], bb[3])) for members, bb in groups]


def _items_by_site(
    group: SiteGroup, items: list[tuple[dict[str, Any], SceneRef | str]]
) -> dict[str, list[tuple[dict[str, Any], SceneRef | str]]]:
    """Each site's share of a group's items, in the search's order: an item goes to the sites whose bounding box
    its footprint meets, as a search over that box alone would have returned it (coverage of the polygon is
    decided after, by :func:`site_candidates`). An item without a readable footprint goes to every site."""
    boxes = [box(*s.require_geometry().bounds) for s in group.sites]
    tree = STRtree(boxes)
    out: dict[str, list[tuple[dict[str, Any], SceneRef | str]]] = {s.id: [] for s in group.sites}
    for item, scene in items:
        footprint: Any = None
        if isinstance(scene, SceneRef):
            footprint = scene.footprint
        else:  # refused: which sites its search would have listed it for, if its geometry says
            try:
                footprint = shape(item["geometry"]) if item.get("geometry") else None
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError):
                footprint = None
        if footprint is None:
            hits = list(range(len(group.sites)))
        else:
            hits = sorted(int(i) for i in tree.query(footprint, predicate="intersects"))
        for i in hits:
            out[group.sites[i].id].append((item, scene))
    return out


def find_scenes_for_sites(
    ws: Workspace,
    store: Store,
    sites: Sequence[Site],
    catalog: Catalog,
    options: FetchOptions,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> SitesFound:
    """:func:`sitewatch.fetch.find_scenes` for many sites, one search a group of :func:`group_sites`.

    A collection the catalogue does not offer is refused before any request (an InputError); a group whose
    search fails has its sites in ``failed`` with the reason, naming them, and the other groups proceed; so
    does a site with no polygon (an unresolved place)."""
    resolve_collection(catalog, options.collection)  # an unknown collection: said once, before any group is asked
    found = SitesFound()
    known = _load_stats(ws)
    placed = []
    for site in sites:
        try:
            site.require_geometry()
            placed.append(site)
        except SiteError as exc:  # an unresolved place: named, the others searched
            found.failed[site.id] = str(exc)
    groups = group_sites(placed, options.group_km)
    reuse: dict[str, Any] = {}
    for k, group in enumerate(groups):
        ids = group.site_ids
        cached: list[float] = []
        try:
            items = search_items(
                catalog, options.collection, group.bbox, options.start, options.end,
                cache_dir=cache_dir(ws), refresh=options.refresh, retries=options.retries, backoff=options.backoff,
                limit=options.page_size, env=options.env, reuse=reuse, cached=cached,
            )  # fmt: skip
        except (SourceError, CredentialError) as exc:
            named = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            why = f"the search for site{'s' if len(ids) > 1 else ''} {named} failed: {exc}"
            log.warning("%s", why)
            for sid in ids:
                found.failed[sid] = why
            continue
        finally:
            found.searches += 1
            if progress:
                progress(k + 1, len(groups), ",".join(ids[:3]))
        found.cached |= dict.fromkeys(ids, cached[0]) if cached else {}
        shares = _items_by_site(group, read_items(items, catalog))
        for site in group.sites:
            refused: list[tuple[str, str]] = []
            found.candidates[site.id] = site_candidates(ws, store, site, shares[site.id], known, refused)
            found.refused[site.id] = refused
    return found


def fetch_sites(
    ws: Workspace,
    store: Store,
    sites: Sequence[Site],
    catalog: Catalog,
    options: FetchOptions,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[dict[str, FetchReport], dict[str, str]]:
    """:func:`sitewatch.fetch.fetch_scenes` for many sites, found by :func:`find_scenes_for_sites`.

    Returns each searched site's report (the same observations, skips and failures as fetching it alone)
    and, for the sites whose group's search failed, why (naming the group's sites). ``progress`` is told
    of the searches (a group each), then of each site's items. An item over several sites is read once for
    them all (:func:`sitewatch.fetch.fetch_candidates_of_sites`): each asset opened once, each site's window
    read from it."""
    found = find_scenes_for_sites(ws, store, sites, catalog, options, progress=progress)
    todo = [s for s in sites if s.id in found.candidates]
    reports = fetch_candidates_of_sites(ws, store, todo, catalog, options, found.candidates, found.refused,
                                        progress=progress)  # fmt: skip
    return {sid: replace(r, search_cached=found.cached.get(sid)) for sid, r in reports.items()}, found.failed
