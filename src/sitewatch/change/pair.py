"""The two images of a comparison and what it finds: :class:`ChangeImage` (bands on a grid, and which
of its pixels can be compared), :func:`check_same_grid` (one grid, or an error saying what differs and
what to do), :class:`ChangeRegion` and :class:`ChangeResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..model import ChangeDirection, Grid

__all__ = ["BandRows", "ChangeImage", "ChangeRegion", "ChangeResult", "GridMismatchError", "RESAMPLE_HINT", "check_same_grid"]

Direction = ChangeDirection


class GridMismatchError(InputError):
    """Two images to compare are not on one grid (CRS, transform or shape differ)."""


class BandRows(Protocol):
    """Bands × rows × cols read a block of rows at a time instead of held whole (``change-image``'s band
    files of a whole tile, its SAR images): ``rows[:, a:b]`` gives rows ``a`` to ``b`` of every band, ``rows[k, a:b]`` of band
    ``k``, as arrays."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """Bands, rows, cols."""
        ...

    @property
    def ndim(self) -> int:
        """3."""
        ...

    @property
    def dtype(self) -> np.dtype[Any]:
        """The values' type."""
        ...

    def __getitem__(self, key: Any) -> NDArray[np.floating]:
        """The rows asked for."""
        ...


@dataclass(frozen=True)
class ChangeImage:
    """One image of a pair: its bands on a grid and which of its pixels can be compared."""

    data: NDArray[np.floating] | BandRows
    """Bands × rows × cols. Optical: reflectance; SAR: linear intensity (sigma0), co-polarised band first.
    Or a :class:`BandRows` read as the comparison goes down the grid (``change-image``'s band files and
    single-band SAR images)."""
    grid: Grid
    """The grid the pixels lie on (the site's grid for an observation)."""
    sensor: Literal["sar", "optical"]
    bands: tuple[str, ...] = ()
    """Band names (``blue``, ``green``, ``red``, ``nir``; ``VV``…); default ``band1``…"""
    valid: NDArray[np.bool_] | None = None
    """Pixels to compare (no cloud, no shadow); default: every pixel. A pixel without a finite value in
    every band is never compared."""
    label: str = ""
    """What errors call the image (an observation id)."""
    rendering: bool = False
    """An 8-bit image (a PNG or JPEG chip, an 8-bit GeoTIFF): a display stretch quantised to 256 levels, not
    reflectance with a sensor's noise, so the optical test's chi-square levels do not hold for it and the learned
    score alone decides (:mod:`.learned`)."""

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise InputError(f"{self.name}: image data must be bands × rows × cols, got shape {self.data.shape}")
        if self.data.shape[1:] != self.grid.shape:
            raise InputError(f"{self.name}: data of {self.data.shape[2]} x {self.data.shape[1]} pixels on a "
                             f"grid of {self.grid.width} x {self.grid.height}")  # fmt: skip
        if self.bands and len(self.bands) != self.data.shape[0]:
            raise InputError(f"{self.name}: {len(self.bands)} band names for {self.data.shape[0]} bands")
        if self.valid is not None and self.valid.shape != self.grid.shape:
            raise InputError(f"{self.name}: valid mask of shape {self.valid.shape}, grid {self.grid.shape}")

    @property
    def name(self) -> str:
        """What messages call the image: its ``label``, else "image"."""
        return self.label or "image"

    @property
    def band_names(self) -> tuple[str, ...]:
        """The band names, ``bands`` or ``band1``, ``band2``… when none were given."""
        return self.bands or tuple(f"band{i + 1}" for i in range(self.data.shape[0]))

    def usable(self) -> NDArray[np.bool_]:
        """Pixels with a finite value in every band and in :attr:`valid`."""
        ok = np.empty(self.grid.shape, bool)
        rows = max(1, (1 << 20) // max(1, self.grid.width))  # a block of rows at a time: not bands × pixels of flags at once
        for a in range(0, self.grid.height, rows):
            ok[a : a + rows] = np.all(np.isfinite(self.data[:, a : a + rows]), axis=0)
        return ok if self.valid is None else ok & self.valid


@dataclass(frozen=True)
class ChangeRegion:
    """One region that changed."""

    polygon: BaseGeometry
    """In the grid's CRS (the site's UTM zone)."""
    polygon_wgs84: BaseGeometry
    """The same, lon/lat, as stored and exported."""
    area_m2: float
    """Pixels × pixel area on the grid."""
    magnitude: float
    """Optical: mean length of the standardised change vector (noise spreads); SAR: mean |log-ratio| in dB."""
    direction: Direction
    pixels: int


@dataclass(frozen=True)
class ChangeResult:
    """What :func:`detect_changes` found for one pair."""

    regions: tuple[ChangeRegion, ...]
    sensor: Literal["sar", "optical"]
    method: str
    """``irmad-cva`` (optical) or ``log-ratio`` (SAR)."""
    method_version: str
    compared_fraction: float
    """Share of the area's pixels with data, not under cloud, in both images."""
    compared_pixels: int
    changed: NDArray[np.bool_] = field(repr=False)
    """Changed pixels kept in regions (rows × cols)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """The rule's values: threshold, looks, bands, pfa, min area…"""
    excluded_m2: float = 0.0
    """Area of the pixels that could have been compared but were left out (``exclude``: detected objects)."""

    def count(self, direction: Direction) -> int:
        """How many regions have ``direction``."""
        return sum(1 for r in self.regions if r.direction == direction)

    @property
    def area_m2(self) -> float:
        """Total area of the regions, square metres on the grid."""
        return float(sum(r.area_m2 for r in self.regions))


RESAMPLE_HINT = (
    "to cut a GeoTIFF at another pixel size X, tag a copy of it (of each band file) SITEWATCH_RESOLUTION_M=X "
    "(`gdal_edit.py -mo SITEWATCH_RESOLUTION_M=X FILE`) and ingest that"
)
"""How an image is ingested at another site's pixel size, for two observations that differ in theirs."""


def check_same_grid(before: Grid, after: Grid, before_name: str = "before", after_name: str = "after") -> None:
    """Raise :class:`GridMismatchError` naming what differs when two grids are not the same."""
    from pyproj import CRS

    what = None
    how = "ingest both images into the same site, at the same resolution, so that they are cut to its grid"
    if CRS.from_user_input(before.crs) != CRS.from_user_input(after.crs):
        what = f"CRS {before.crs} against {after.crs}"
    elif not np.allclose(before.pixel_size, after.pixel_size, rtol=1e-6):
        what = f"pixel size {before.pixel_size[0]:g} m against {after.pixel_size[0]:g} m"
        # `ingest` cuts an image at its own ground resolution and has no option for another one: two
        # Sentinel-2 exports of one place came out at 9.63 and 9.666 m (OSCD's hongkong) and could not be compared.
        how = f"{RESAMPLE_HINT} (at {before.pixel_size[0]:g} m to compare them)"
    elif not np.allclose(before.transform, after.transform, rtol=0, atol=1e-6 * max(before.pixel_size)):
        what = f"origin ({before.transform[2]:.2f}, {before.transform[5]:.2f}) against ({after.transform[2]:.2f}, {after.transform[5]:.2f})"
    elif before.shape != after.shape:
        what = f"{before.width} x {before.height} pixels against {after.width} x {after.height}"
    if what:
        raise GridMismatchError(
            f"{before_name} and {after_name} are not on one grid ({what}): change compares pixels of one site grid; {how}"
        )
