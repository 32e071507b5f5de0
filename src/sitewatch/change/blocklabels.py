"""Changed pixels labelled a block of rows at a time: the 8-connected parts of a mask (:func:`label_parts`),
the hysteresis that keeps those holding a seed (:func:`block_hysteresis`) and the regions they make
(:func:`block_regions`), each the same to the bit as :mod:`.regions`' labelling of the whole grid at once
(same parts, numbered alike, same pixel counts, means and polygons), without its grid of labels.

Each block is labelled by ``scipy.ndimage.label`` on its own; a part cut by a block's edge gets a number in
each block it crosses, and those numbers are joined by the pixels that touch across the edge (the last row
of a block against the first of the next, 8-connected: straight down and both diagonals), as the edges of a
graph whose connected components (``scipy.sparse.csgraph.connected_components``) are the grid's parts. The
parts are then numbered in the order the raster first meets them, as ``ndimage.label`` numbers them.

What is held at once, whatever the size of the grid, is a block's labels and their copies (some 20 bytes a
pixel of the block: about 40 MB in the comparison's default blocks of 2^21 pixels) and some 100 bytes a
part (the parts of every block, before they are joined), besides the kept pixels' mask that the caller gets
(a byte a pixel); the whole grid's labels were 4 bytes a pixel, and their copies as many again. A region
is vectorised from the labels of the block that holds it whole, or, when it crosses a block's edge, from the
kept pixels of its bounding box (2 bytes a pixel of that box: a region as large as the grid costs that
much, which no other does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..model import Grid
from .blocks import RowBlocks
from .pair import ChangeRegion, Direction
from .regions import PixelValues, _made_regions

__all__ = ["Parts", "block_hysteresis", "block_regions", "label_parts"]

Rows = Callable[[int, int], NDArray[np.bool_]]
"""Rows ``a`` to ``b`` of a mask, as a bool array."""

_EIGHT = np.ones((3, 3), bool)


@dataclass(frozen=True)
class Parts:
    """The 8-connected parts of a mask, found a block of rows at a time by :func:`label_parts`, numbered 1 to
    :attr:`n` in the order the raster first meets them. Each per-part array has an unused entry 0."""

    shape: tuple[int, int]
    """Rows and columns of the grid."""
    spans: tuple[tuple[int, int], ...]
    """The blocks, (first row, row after the last), top to bottom."""
    offsets: NDArray[np.intp]
    """Each block's first block-local label less one, among all blocks' labels (and the count of them all, last)."""
    number: NDArray[np.int32]
    """The part of each block-local label (counted across blocks, 0 for 0)."""
    sizes: NDArray[np.intp]
    """Pixels of each part."""
    first: NDArray[np.intp]
    """Flat index (rows × cols) of each part's first pixel in raster order."""
    box: NDArray[np.intp]
    """Each part's bounding box: first row, row after the last, first column, column after the last."""
    seeded: NDArray[np.bool_]
    """Whether each part holds a seed pixel (all False when no seeds were given)."""

    @property
    def n(self) -> int:
        """How many parts."""
        return int(self.sizes.size - 1)

    def labelled(self, rows: Rows) -> Iterator[tuple[int, int, NDArray[np.int32]]]:
        """Each block's labels as part numbers (first row, row after the last, labels), top to bottom, from the
        same mask ``rows``: each block is labelled again (a block's labels are not kept between the passes)."""
        from scipy import ndimage

        for i, (a, b) in enumerate(self.spans):
            lab, k = ndimage.label(rows(a, b), structure=_EIGHT)
            if k != self.offsets[i + 1] - self.offsets[i]:
                raise RuntimeError(f"rows {a}-{b} gave {k} labels, not the {self.offsets[i + 1] - self.offsets[i]} of the first pass")
            lut = np.zeros(k + 1, np.int32)
            lut[1:] = self.number[self.offsets[i] + 1 : self.offsets[i + 1] + 1]
            yield a, b, lut[lab]


def label_parts(rows: Rows, shape: tuple[int, int], blocks: RowBlocks, seeds: Rows | None = None) -> Parts:
    """The 8-connected parts of the mask ``rows`` of a ``shape`` grid, labelled a block of ``blocks`` at a time
    (module docstring), with whether each holds a pixel of ``seeds`` (rows of a mask within the first)."""
    from scipy import ndimage, sparse
    from scipy.sparse import csgraph

    height, width = shape
    spans = tuple(blocks.spans(height, width))
    offsets = [0]
    sizes, first, box, seeded, joins = [], [], [], [], []
    last: NDArray[np.intp] | None = None  # the previous block's last row, as labels counted across blocks
    for a, b in spans:
        lab, k = ndimage.label(rows(a, b), structure=_EIGHT)
        off = offsets[-1]
        offsets.append(off + k)
        if k == 0:
            last = None
            continue
        flat = lab.ravel()
        at = np.flatnonzero(flat)
        which = flat[at]
        sizes.append(np.bincount(which, minlength=k + 1)[1:])
        # First and last pixels and columns from the labelled pixels alone (find_objects reads the whole block).
        lo, hi = np.full(k + 1, flat.size, np.intp), np.zeros(k + 1, np.intp)
        np.minimum.at(lo, which, at)
        np.maximum.at(hi, which, at)
        col = at % width
        left, right = np.full(k + 1, width, np.intp), np.zeros(k + 1, np.intp)
        np.minimum.at(left, which, col)
        np.maximum.at(right, which, col)
        first.append(lo[1:] + a * width)
        box.append(np.stack([lo[1:] // width + a, hi[1:] // width + a + 1, left[1:], right[1:] + 1], axis=1))
        del at, which, col
        has = np.zeros(k + 1, bool)
        if seeds is not None:
            has[lab[seeds(a, b)]] = True
        seeded.append(has[1:])
        row = np.where(lab[0] > 0, lab[0].astype(np.intp) + off, 0)
        if last is not None:
            for u, v in ((last, row), (last[:-1], row[1:]), (last[1:], row[:-1])):  # down, and both diagonals
                both = (u > 0) & (v > 0)
                joins.append(np.stack([u[both], v[both]]))
        last = np.where(lab[-1] > 0, lab[-1].astype(np.intp) + off, 0)
    total = offsets[-1]
    if total == 0:
        zero = np.zeros(1, np.intp)
        return Parts(shape, spans, np.asarray(offsets, np.intp), np.zeros(1, np.int32), zero, zero, np.zeros((1, 4), np.intp), np.zeros(1, bool))
    edges = np.concatenate(joins, axis=1) - 1 if joins else np.zeros((2, 0), np.intp)
    graph = sparse.coo_matrix((np.ones(edges.shape[1], np.int8), (edges[0], edges[1])), shape=(total, total)).tocsr()
    count, comp = csgraph.connected_components(graph, directed=False)
    del graph, edges, joins
    p_first = np.concatenate(first)
    c_first = np.full(count, height * width, np.intp)
    np.minimum.at(c_first, comp, p_first)
    # Numbered by first pixel: ndimage.label's order on the whole grid.
    order = np.argsort(c_first, kind="stable")
    rank = np.empty(count, np.int32)
    rank[order] = np.arange(1, count + 1, dtype=np.int32)
    part = rank[comp]
    number = np.concatenate([np.zeros(1, np.int32), part])
    n_sizes = np.zeros(count + 1, np.intp)
    np.add.at(n_sizes, part, np.concatenate(sizes))
    n_first = np.concatenate([np.zeros(1, np.intp), c_first[order]])
    p_box = np.concatenate(box)
    n_box = np.zeros((count + 1, 4), np.intp)
    n_box[1:, 0::2] = height + width
    np.minimum.at(n_box[:, 0], part, p_box[:, 0])
    np.maximum.at(n_box[:, 1], part, p_box[:, 1])
    np.minimum.at(n_box[:, 2], part, p_box[:, 2])
    np.maximum.at(n_box[:, 3], part, p_box[:, 3])
    n_seeded = np.zeros(count + 1, bool)
    n_seeded[part[np.concatenate(seeded)]] = True
    return Parts(shape, spans, np.asarray(offsets, np.intp), number, n_sizes, n_first, n_box, n_seeded)


def block_hysteresis(grow: NDArray[np.bool_], seed: NDArray[np.bool_], blocks: RowBlocks) -> NDArray[np.bool_]:
    """:func:`.regions._hysteresis` (the 8-connected parts of ``grow | seed`` that hold a ``seed`` pixel),
    labelled a block of rows at a time."""

    def rows(a: int, b: int) -> NDArray[np.bool_]:
        return grow[a:b] | seed[a:b]

    parts = label_parts(rows, grow.shape, blocks, lambda a, b: seed[a:b])
    out = np.zeros(grow.shape, bool)
    for a, b, lab in parts.labelled(rows):
        out[a:b] = parts.seeded[lab]
    return out


def _add_values(sums: NDArray[np.float64], value: NDArray[np.float64] | PixelValues, lab: NDArray[np.int32], kept: NDArray[np.bool_], a: int, b: int) -> None:
    """Add ``value`` at the kept pixels of rows ``a`` to ``b`` (labels ``lab``) to their parts' ``sums``, pixel
    after pixel in raster order: the sums ``np.bincount`` makes of the whole grid (and so ``ndimage.mean``), to the bit."""
    width = lab.shape[1]
    if isinstance(value, PixelValues):
        lo, hi = np.searchsorted(value.index, [a * width, b * width])
        at = value.index[lo:hi] - a * width
        np.add.at(sums, lab.ravel()[at], value.values[lo:hi])
    else:
        at = np.flatnonzero(kept)
        np.add.at(sums, lab.ravel()[at], np.asarray(value[a:b], np.float64).ravel()[at])


def _to_grid(geom: BaseGeometry, row: int, col: int, grid: Grid) -> BaseGeometry:
    """``geom`` in a window's pixel coordinates (its corner at ``row``, ``col``) in the grid's CRS, each
    vertex computed as GDAL's polygonize computes it from the geotransform (x0 + col × a + row × b, ...), so
    the coordinates are those of the whole grid's polygonize to the bit."""
    import shapely

    t = grid.affine

    def move(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = xy[:, 0] + col, xy[:, 1] + row
        return np.column_stack([t.c + x * t.a + y * t.b, t.f + x * t.d + y * t.e])

    return shapely.transform(geom, move)


def _crossing_polygon(kept: NDArray[np.bool_], box: NDArray[np.intp], first: int) -> BaseGeometry:
    """The outline (window pixel coordinates) of the kept region whose first pixel is flat index ``first``,
    from the kept pixels of its bounding ``box``: the polygon of that pixel among the window's 8-connected
    pieces (the others are other regions' pieces, never 8-connected to it, or it would be one with them)."""
    import shapely
    from rasterio.features import shapes

    r0, r1, c0, c1 = (int(v) for v in box)
    window = kept[r0:r1, c0:c1]
    fr, fc = divmod(first, kept.shape[1])
    x, y = fc - c0 + 0.5, fr - r0 + 0.5  # a pixel's centre is never on an outline (they run along pixel edges)
    for geom, _ in shapes(window.astype(np.uint8), mask=window, connectivity=8):
        poly = shape(geom)
        if shapely.intersects_xy(poly, x, y):
            return poly
    raise RuntimeError(f"no outline holds the first pixel ({fr}, {fc}) of its region")  # a broken invariant, not bad input


def block_regions(
    rows: Rows, grid: Grid, min_area_m2: float, value: NDArray[np.float64] | PixelValues,
    direction_of: NDArray[np.float64] | PixelValues | Direction, blocks: RowBlocks, seeds: Rows | None = None,
) -> tuple[list[ChangeRegion], NDArray[np.bool_]]:  # fmt: skip
    """:func:`.regions._regions` of the mask ``rows`` (rows ``a`` to ``b`` of it, as bools), labelled a block of
    ``blocks`` at a time, to the bit; with ``seeds``, only the parts holding a seed pixel count (the
    hysteresis of :func:`.regions._hysteresis` and :func:`.regions._regions` of it in one labelling)."""
    from rasterio.features import shapes

    a_, b_, _, d_, e_, _ = grid.transform
    pixel_m2 = abs(a_ * e_ - b_ * d_)
    parts = label_parts(rows, grid.shape, blocks, seeds)
    keep = parts.sizes * pixel_m2 >= min_area_m2
    if seeds is not None:
        keep &= parts.seeded
    keep[0] = False
    if not keep.any():
        return [], np.zeros(grid.shape, bool)
    kept = np.zeros(grid.shape, bool)
    vsum = np.zeros(parts.n + 1)
    dsum = None if isinstance(direction_of, str) else np.zeros(parts.n + 1)
    outlines: dict[int, list[BaseGeometry]] = {}
    ids = np.flatnonzero(keep)
    for a, b, lab in parts.labelled(rows):
        here = keep[lab]
        kept[a:b] = here
        _add_values(vsum, value, lab, here, a, b)
        if dsum is not None and not isinstance(direction_of, str):
            _add_values(dsum, direction_of, lab, here, a, b)
        inside = ids[(parts.box[ids, 0] >= a) & (parts.box[ids, 1] <= b)]
        if inside.size:
            whole = np.zeros(keep.size, bool)
            whole[inside] = True
            # The regions this block holds whole, from its labels: the polygons the whole grid's would give.
            for geom, v in shapes(lab, mask=whole[lab], connectivity=8):
                outlines.setdefault(int(v), []).append(_to_grid(shape(geom), a, 0, grid))
    for k in ids.tolist():
        if k not in outlines:  # cut by a block's edge
            box = parts.box[k]
            outlines[k] = [_to_grid(_crossing_polygon(kept, box, int(parts.first[k])), int(box[0]), int(box[2]), grid)]
    counts = parts.sizes[ids].astype(np.float64)
    vmean = dict(zip(ids.tolist(), vsum[ids] / counts, strict=True))
    dmean = None if dsum is None else dict(zip(ids.tolist(), dsum[ids] / counts, strict=True))
    return _made_regions(outlines, parts.sizes, pixel_m2, vmean, dmean, direction_of, grid), kept
