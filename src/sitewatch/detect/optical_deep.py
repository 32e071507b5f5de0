"""Deep land and deep water around candidate vessels (issue 4 experiment; the shipped weights do not use it).

Container stacks and roofs near the quays score like ships on the object
features: their rings hold as much NDWI "water" as a moored hull's (they
sit at the quay edge or beside dark yards the NDWI mask takes for water).
The idea tested here: "deep" land is the land opened by a disk of radius r
on the ground (only where such a disk fits), deep water likewise; a stack
lies inside deep land, a ship on a narrow pier or jetty does not, and a
moored ship has deep water beside it. An opening keeps long low bumps on a
straight edge, though, so a ship alongside a straight quay is mostly deep
land too (BENCHMARKS.md, "Deep land"). Turned on by
:attr:`OpticalParams.deep_radii_m`; :func:`~sitewatch.detect.optical_objects.multi_candidates`
then appends :func:`deep_feature_names` to each candidate's features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .optical_params import OpticalParams

__all__ = ["DeepContext", "deep_feature_names", "deep_reach"]


def deep_reach(params: OpticalParams, pixel_size: tuple[float, float]) -> int:
    """Lines around a candidate whose land decides its deep-land features (distance cap and two radii)."""
    return int(np.ceil((params.deep_distance_cap_m + 2 * max(params.deep_radii_m)) / min(pixel_size))) + 2


def deep_feature_names(radii_m: Sequence[float]) -> tuple[str, ...]:
    """Names of the object features :attr:`OpticalParams.deep_radii_m` appends, four a radius."""
    kinds = ("deep_land", "deep_land_ring", "deep_water_ring", "deep_land_dist")
    return tuple(f"{kind}_{r:g}m" for r in radii_m for kind in kinds)


def _disk(radius_m: float, pixel_size: tuple[float, float]) -> NDArray[np.bool_]:
    """Footprint of a disk of ``radius_m`` on the ground (at least the 3 x 3 cross)."""
    px, py = pixel_size
    ry, rx = max(1, int(radius_m / py)), max(1, int(radius_m / px))
    dy, dx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    return np.asarray((dy * py) ** 2 + (dx * px) ** 2 <= max(radius_m**2, py**2, px**2))


@dataclass(frozen=True)
class DeepContext:
    """Land and water opened by disks, on the tile's rows and columns within reach of candidate pixels.

    Opening the land with a disk of radius r keeps only land where such a
    disk fits ("deep" land); opening the water keeps open water, not the
    small dark patches the NDWI mask takes for water. Cut to the lines within
    :func:`deep_reach` of the candidates (the distance cap and twice the
    largest radius), the openings and distances of every pixel within the cap
    of a candidate are those of the whole tile (as the object stage's cut-down
    image, ``optical_objects._Near``).
    """

    at_row: NDArray[np.intp]
    """Tile row -> row of the cut (-1: not in it)."""
    at_col: NDArray[np.intp]
    land: tuple[NDArray[np.bool_], ...]
    """Deep land, one image a radius."""
    water: tuple[NDArray[np.bool_], ...]
    """Deep water, one image a radius."""
    offsets: NDArray[np.intp]
    """(n, 2) row and column offsets within the distance cap, nearest first."""
    distance_m: NDArray[np.float64]
    """Ground distance of each offset."""
    cap_m: float

    @classmethod
    def on_lines(
        cls,
        rows: NDArray[np.intp],
        cols: NDArray[np.intp],
        water: NDArray[np.bool_],
        hidden: NDArray[np.bool_],
        pixel_size: tuple[float, float],
        params: OpticalParams,
    ) -> DeepContext:
        """The openings on the tile's ``rows`` x ``cols`` (lines within :func:`deep_reach` of the candidates)."""
        px, py = pixel_size
        cap = params.deep_distance_cap_m
        h, w = water.shape
        at_row = np.full(h, -1, np.intp)
        at_row[rows] = np.arange(rows.size)
        at_col = np.full(w, -1, np.intp)
        at_col[cols] = np.arange(cols.size)
        wet = np.take(np.asarray(water, bool)[rows], cols, axis=1)
        seen = ~np.take(np.asarray(hidden, bool)[rows], cols, axis=1)
        land: list[NDArray[np.bool_]] = []
        sea: list[NDArray[np.bool_]] = []
        for radius in params.deep_radii_m:
            disk = _disk(radius, pixel_size)
            # Outside the tile the edge goes on (border 1): the edge itself does not erode.
            for a, out in ((~wet & seen, land), (wet & seen, sea)):
                out.append(ndimage.binary_dilation(ndimage.binary_erosion(a, disk, border_value=1), disk))
        ry, rx = int(cap / py), int(cap / px)
        dy, dx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
        dist = np.hypot(dy * py, dx * px).ravel()
        order = np.argsort(dist, kind="stable")
        order = order[dist[order] <= cap]
        offsets = np.column_stack([dy.ravel()[order], dx.ravel()[order]])
        return cls(at_row, at_col, tuple(land), tuple(sea), offsets, dist[order], cap)

    def _at(self, image: NDArray[np.bool_], r: NDArray[np.intp], c: NDArray[np.intp]) -> NDArray[np.bool_]:
        """``image`` at tile pixels (r, c); False off the tile or the cut."""
        h, w = self.at_row.size, self.at_col.size
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        rr = np.where(ok, self.at_row[np.clip(r, 0, h - 1)], -1)
        cc = np.where(ok, self.at_col[np.clip(c, 0, w - 1)], -1)
        ok &= (rr >= 0) & (cc >= 0)
        return ok & image[np.maximum(rr, 0), np.maximum(cc, 0)]

    def _distance(self, image: NDArray[np.bool_], r: NDArray[np.intp], c: NDArray[np.intp]) -> NDArray[np.float64]:
        """Ground distance from pixels (r, c) to the nearest True pixel of ``image``, cut at the cap."""
        out = np.full(r.size, self.cap_m)
        todo = np.arange(r.size)
        step = 256
        for start in range(0, len(self.offsets), step):
            if not todo.size:
                break
            off = self.offsets[start : start + step]
            hit = self._at(image, r[todo, None] + off[None, :, 0], c[todo, None] + off[None, :, 1])
            found = hit.any(axis=1)
            out[todo[found]] = self.distance_m[start + np.argmax(hit[found], axis=1)]
            todo = todo[~found]
        return out

    def features(
        self,
        lab: NDArray[np.integer],
        r: NDArray[np.intp],
        c: NDArray[np.intp],
        ring_lab: NDArray[np.integer],
        ring_t: NDArray[np.intp],
        m: dict[str, NDArray[np.float64]],
        k: int,
    ) -> NDArray[np.float32]:
        """Per radius: fraction of the objects' pixels (``lab`` at tile pixels r, c) in deep land, of
        their one-pixel rings (``ring_lab`` at tile flat indices ``ring_t``) in deep land and in deep
        water, and the ground distance from the centroid to deep land (metres, cut at the cap)."""
        count = np.maximum(np.bincount(lab, minlength=k + 1)[1:], 1)
        ring_count = np.maximum(np.bincount(ring_lab, minlength=k + 1)[1:], 1)
        rr, rc = np.divmod(ring_t, self.at_col.size)
        cr = np.rint(m["row"]).astype(np.intp)
        cc = np.rint(m["col"]).astype(np.intp)
        cols = []
        for land, sea in zip(self.land, self.water, strict=True):
            cols += [
                np.bincount(lab, weights=self._at(land, r, c), minlength=k + 1)[1:] / count,
                np.bincount(ring_lab, weights=self._at(land, rr, rc), minlength=k + 1)[1:] / ring_count,
                np.bincount(ring_lab, weights=self._at(sea, rr, rc), minlength=k + 1)[1:] / ring_count,
                self._distance(land, cr, cc),
            ]
        return np.column_stack(cols).astype(np.float32)
