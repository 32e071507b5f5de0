"""A stored change pair as the dashboard shows it: the pair found by its id, the part of the two images
both quick-looks show, and the pair page's JSON.

The two quick-looks show the same ground at the same scale: the regions' extent with a margin
(:func:`~sitewatch.web.quicklook.view_window`), or the whole image when the pair has no regions,
cut from the before image's grid; the after image, on the same grid as ``sitewatch change`` requires,
is cut to the same pixels. The SVG of the regions spans that window exactly, to lie over both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shapely.ops import unary_union

from ..detection_masks import window_grid
from ..geo import reproject_geometry
from ..model import Change, Grid, Observation, acquired_label
from ..store import Store
from ..store.changes import ChangePair, change_pairs, changes
from .data import NotFound, change_pair_dict, observation_row, pair_id
from .quicklook import PixelWindow, bounds_window, view_window
from .svg import grid_bounds

__all__ = ["Side", "SIDES", "PairView", "load_pair", "pair_detail"]

Side = Literal["before", "after"]
SIDES: tuple[Side, ...] = ("before", "after")


@dataclass(frozen=True)
class PairView:
    """One stored pair, what it rests on, and the window of its images the page shows."""

    pair: ChangePair
    regions: tuple[Change, ...]
    """Largest first: region N of the page is ``regions[N - 1]``."""
    site_pairs: tuple[ChangePair, ...]
    """The site's stored pairs in the site page's order (after image, then before image)."""
    observations: Mapping[Side, Observation | None]
    """The two observations as the store now holds them; None for one no longer in it."""
    crs: str | None
    """The CRS of the images' grid; None when neither observation is in the store."""
    bounds: tuple[float, float, float, float] | None
    """The ground both quick-looks show (minx, miny, maxx, maxy in ``crs``)."""
    windows: Mapping[Side, PixelWindow | None]
    """The pixels of each image that show ``bounds``; None for an image not in the store or off the view."""

    @property
    def id(self) -> str:
        """The pair's id, ``BEFORE..AFTER`` (:func:`~sitewatch.web.data.pair_id`)."""
        return pair_id(self.pair.before_id, self.pair.after_id)

    @property
    def number(self) -> int:
        """The pair's row (from 1) in its site's table of changes."""
        return 1 + [pair_id(p.before_id, p.after_id) for p in self.site_pairs].index(self.id)

    def neighbour(self, step: int) -> str | None:
        """The id of the site's pair ``step`` rows after this one (before it if negative), None past either end."""
        n = self.number - 1 + step
        return pair_id(self.site_pairs[n].before_id, self.site_pairs[n].after_id) if 0 <= n < len(self.site_pairs) else None


def _observation(store: Store, observation_id: str) -> Observation | None:
    if not store.execute("SELECT 1 FROM observations WHERE observation_id = ?", (observation_id,)):
        return None
    return store.get_observation(observation_id)


def _sub_grid(grid: Grid, window: PixelWindow) -> Grid:
    col, row, width, height = window
    return window_grid(grid, (row, row + height, col, col + width))


def load_pair(store: Store, pid: str) -> PairView:
    """The stored pair ``pid`` (``BEFORE..AFTER``) with its regions, its site's pairs, its observations and
    the window of the images to show; :class:`~sitewatch.web.data.NotFound` naming ``pid`` if none is stored."""
    # Each way to cut the id at a '..' is asked by the pair's two ids (their unique index), not by the pair's id
    # made of every stored row (a read of the whole table: a pair page at years of daily pairs).
    cuts = [(pid[:i], pid[i + 2:]) for i in range(len(pid) - 1) if pid.startswith("..", i)]
    rows = store.execute(
        "SELECT site_id, before_id, after_id FROM change_pairs WHERE "
        + " OR ".join(["(before_id = ? AND after_id = ?)"] * len(cuts)), [v for cut in cuts for v in cut]
    ) if cuts else []  # fmt: skip
    if not rows:
        raise NotFound(f"no stored change pair {pid!r} in this workspace (a pair's id is BEFORE..AFTER, its two "
                       "observation ids; the pairs `sitewatch change` stored are listed on their site's page)")  # fmt: skip
    site_id, before_id, after_id = rows[0]["site_id"], rows[0]["before_id"], rows[0]["after_id"]
    site_pairs = tuple(change_pairs(store, site_id))
    pair = next(p for p in site_pairs if (p.before_id, p.after_id) == (before_id, after_id))
    regions = tuple(changes(store, before_id=before_id, after_id=after_id))
    obs: dict[Side, Observation | None] = {"before": _observation(store, before_id), "after": _observation(store, after_id)}
    grid = next((o.grid for o in obs.values() if o is not None), None)
    if grid is None:
        return PairView(pair, regions, site_pairs, obs, None, None, {"before": None, "after": None})
    extent = reproject_geometry(unary_union([r.polygon for r in regions]), "EPSG:4326", grid.crs).bounds if regions else None
    bounds = grid_bounds(_sub_grid(grid, view_window(grid, extent)))
    windows = {side: bounds_window(o.grid, bounds) if o is not None else None for side, o in obs.items()}
    return PairView(pair, regions, site_pairs, obs, grid.crs, bounds, windows)


def _image(view: PairView, side: Side, missing: str | None) -> dict[str, Any]:
    o = view.observations[side]
    compared = view.pair.before_sha256 if side == "before" else view.pair.after_sha256
    window = view.windows[side]
    out = {
        "id": view.pair.before_id if side == "before" else view.pair.after_id, "in_store": o is not None,
        "sha256_compared": compared or None, "missing": missing, "window": list(window) if window is not None else None,
    }  # fmt: skip
    if o is not None:
        row = observation_row(o, 0)
        del row["detections"]  # the page is about the ground, not the vessels
        out |= row | {
            "acquired_label": acquired_label(o, seconds=True), "scene_id": o.scene.id, "image": o.path, "sha256": o.sha256,
            "changed_since_compared": bool(compared) and compared != o.sha256,
        }  # fmt: skip
    return out


def pair_detail(view: PairView, missing: Mapping[Side, str | None]) -> dict[str, Any]:
    """The pair page's JSON: the pair (:func:`~sitewatch.web.data.change_pair_dict`) with its site, its row
    and neighbours in the site's table, how it was computed, each image (its observation, the archived file,
    its sha256 when compared and now, ``missing`` saying why it cannot be shown, the pixels shown) and the
    ground both show."""
    p = view.pair
    return change_pair_dict(p, view.regions) | {
        "site_id": p.site_id, "number": view.number, "pairs_at_site": len(view.site_pairs),
        "previous": view.neighbour(-1), "next": view.neighbour(1),
        "parameters": dict(p.parameters), "computed_at": p.computed_at,
        "images": {side: _image(view, side, missing.get(side)) for side in SIDES},
        "view": {"crs": view.crs, "bounds": [round(v, 2) for v in view.bounds] if view.bounds else None},
    }  # fmt: skip
