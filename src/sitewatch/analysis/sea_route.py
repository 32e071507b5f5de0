"""Distance by sea: the shortest route over water between two points, on a 1 km land mask, offline.

The land mask is that of the ``global-land-mask`` package (1.0.0, MIT): NOAA's GLOBE digital elevation
model (public domain) made into a 30 arc-second (about 1 km) grid, True over the sea. Lakes are land in
it. Its module (``global_land_mask.globe``) decompresses the whole 21600 × 43200 grid (about 1 GB) when
imported, and so does importing the package (its ``__init__`` imports that module), so the package is
never imported here: its ``.npz`` file is found with :func:`importlib.util.find_spec` (which does not
import a top-level package; :mod:`importlib.resources` would) and read as a stream, row after row, down to
the last row a route needs; the rows of its square are kept for the process, 8 cells a byte and at most 64 MB,
so that the next route in the same band of latitude reads none (:func:`water_at`, :class:`_MaskRows`).

The route (:func:`sea_distance`) runs on a square grid in an azimuthal-equidistant projection centred
halfway between the two points (distances from the centre are true; across a 2000 km square, less than
2 % off elsewhere, and the route's length is measured on the sphere in any case). Each cell is water
or land by the mask at its centre; the passages in :data:`PASSAGES` that the mask closes at 1 km or
that a cell of several km would close are opened along their centre-lines. Each point is moved to the
nearest water cell within ``snap_km`` of it; a point with none that near (a port up a river or canal,
which the mask lacks) starts with a straight leg to the nearest water within ``reach_km``, counted in the
distance and given in ``legs_km``; farther, it has no sea route. Either way both points must reach one
body of water (8-connected cells), so a lagoon or a dock cut off from the sea is passed over. The shortest
8-connected path between the two (:class:`skimage.graph.MCP_Geometric`) is pulled taut over water
(a path on a grid zig-zags: up to 8 % longer than the straight line), and its length is the sum of its
legs on the sphere. The square starts at 1.5 times the great circle (at least 100 km) and doubles when
no route is found or the route runs along its edge, up to ``max_area_km``; its cells are the larger of
``cell_km`` and the square's side over 1500, so at most 1500 × 1500 cells.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import numpy as np
from numpy.lib import format as npy_format

from ..errors import InputError, LandMaskError

if TYPE_CHECKING:
    from pyproj import Transformer

__all__ = [
    "MASK_PACKAGE",
    "LAND_MASK_TEXT",
    "PASSAGES",
    "Passage",
    "SeaDistance",
    "land_mask_file",
    "water_at",
    "sea_distance",
]

MASK_PACKAGE = "global_land_mask"
"""The importable name of the land mask's package (``pip install global-land-mask``)."""

LAND_MASK_TEXT = "global-land-mask 1.0.0: NOAA GLOBE, 30 arc-seconds (about 1 km), lakes as land"
"""The land mask routes are measured on, as the run's parameters record it."""

_MASK_FILE = "globe_combined_mask_compressed.npz"
_PX_PER_DEG = 120  # 30 arc-seconds
_ROWS, _COLS = 180 * _PX_PER_DEG, 360 * _PX_PER_DEG
_CHUNK_ROWS = 64  # 2.8 MB of mask rows at a time
_MAX_SIDE = 1500  # cells along a side of the routing square
_EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


@dataclass(frozen=True)
class Passage:
    """A channel ships use that the 1 km mask (or a coarser routing cell) may close: opened along its centre-line."""

    name: str
    points: tuple[tuple[float, float], ...]
    """(lon, lat) from open water to open water."""


PASSAGES: tuple[Passage, ...] = (
    # Port Said 31.25 N 32.29 E, the canal at 30.4947 N 32.3447 E and the Port of Suez 29.97 N 32.55 E are
    # marinelink.com's port data (ports.marinelink.com/ports/port/suez-canal); the points between follow
    # the canal past El Qantara, through Lake Timsah and the Bitter Lakes (approximate, checked against
    # the mask: the lakes are water in it, the canal itself, 205-225 m wide, is land).
    Passage("Suez Canal", (
        (32.32, 31.40), (32.29, 31.25), (32.31, 30.85), (32.30, 30.58), (32.3447, 30.4947),
        (32.38, 30.35), (32.50, 30.20), (32.56, 30.00), (32.55, 29.97), (32.54, 29.85),
    )),  # fmt: skip
    # The Bosporus is 0.7-3 km wide: open in the 1 km mask, one pixel wide in places, so closed by a
    # coarser cell. Centre-line from the mask's own channel (sitewatch's test checks each point is water).
    Passage("Bosporus", (
        (29.13, 41.23), (29.11, 41.20), (29.075, 41.17), (29.08, 41.14), (29.07, 41.10), (29.058, 41.08),
        (29.048, 41.06), (29.01, 41.04), (29.00, 41.02), (28.99, 41.00),
    )),  # fmt: skip
    # The Dardanelles narrows (Çanakkale, 1.2 km): centre-line from the mask's channel, as the Bosporus.
    Passage("Dardanelles", (
        (26.20, 40.02), (26.33, 40.10), (26.40, 40.15), (26.40, 40.20), (26.45, 40.25), (26.60, 40.35),
        (26.75, 40.45),
    )),  # fmt: skip
    # The Kanmon Strait (Shimonoseki Kaikyo), between Honshu and Kyushu: the mask closes the Oseto, its western
    # entrance on the Moji side of Hikoshima, for about 3 km along 33.93 N; its narrows, the Hayatomo-no-seto
    # (about 650 m wide, as an encyclopedia entry at japanese.pink/p/15407.html gives it), are open at 1 km and closed by
    # a coarser cell. From the Hibiki-nada: (130.85, 33.955) and (130.8925, 33.9325) are the mask's water west
    # of the closed stretch, (130.9258, 33.9325) its water east of it; (130.9467, 33.9469) is the strait's
    # position as Wikipedia gives it (33°56′49″N 130°56′48″E), (130.9583, 33.9619) the Kanmon Bridge's over the
    # narrows (Wikipedia, "Kanmon Bridge": 33°57′43″N 130°57′30″E); (130.9842, 33.9742) is the mask's water
    # of the Suo-nada side. Pub. 151 routes Busan - Kobe and Vladivostok - Kobe this way ("via Naikai").
    Passage("Kanmon Strait", (
        (130.85, 33.955), (130.8925, 33.9325), (130.9258, 33.9325), (130.9467, 33.9469), (130.9583, 33.9619),
        (130.9842, 33.9742),
    )),  # fmt: skip
    # The Kiel Canal (Nord-Ostsee-Kanal), 98.26 km from the Elbe at Brunsbüttel to the Kiel Fjord at Holtenau,
    # 102-162 m wide: land in the mask. Points: the Elbe off the Brunsbüttel locks (their position, 53.8958 N
    # 9.1451 E, as schleuseninfo.de's visitor page gives it via lobafedo.de, moved 1.1 km south onto the mask's
    # Elbe), the locks, the Hochdonn High Bridge (Wikipedia: 54°00′58″N 9°17′51″E), the Grünental High Bridge
    # (deutsche-leuchtfeuer.de: 54°07'29"N 9°19'46"E), the Rendsburg High Bridge (Wikipedia: 54°17′36.94″N
    # 9°40′58.45″E), the Levensau High Bridges (German Wikipedia: 54°22′4″N 10°4′33″E) and the canal's east
    # entrance as NGA Pub. 151 places it (54°22'N 10°09'E), water of the Kiel Fjord in the mask. The line
    # between the bridges cuts the canal's bends: 90 km of it, about 8 km short of the canal.
    Passage("Kiel Canal", (
        (9.1451, 53.8858), (9.1451, 53.8958), (9.2975, 54.0161), (9.3294, 54.1247), (9.6829, 54.2936),
        (10.0758, 54.3678), (10.15, 54.3667),
    )),  # fmt: skip
    # The Strait of Messina narrows to about 3 km between Punta Faro and Torre Cavallo: open in the 1 km mask (two
    # or three cells wide), closed from 2.8 km cells (Napoli - Iraklion then went round Sicily, 1,601 km for
    # 1,248). Centre-line from the mask's own channel, as the Bosporus.
    Passage("Strait of Messina", (
        (15.66, 38.275), (15.633, 38.25), (15.604, 38.233), (15.60, 38.2167), (15.604, 38.20), (15.60, 38.167),
        (15.596, 38.133), (15.57, 38.10),
    )),  # fmt: skip
    # The Corinth Canal, 6,343 m on a bearing of 131.5°, 24.6 m wide at the surface and 8 m deep (its operator's
    # figures, aedik.gr): land in the mask. Only ships up to about 16-18 m of beam pass it (frigates, landing
    # ships, coasters, small cruise ships; not bulk carriers), so for a large ship the route is a lower bound, as a
    # link's distance should be: a link is what a vessel could have done. From the Gulf of Corinth's water in the
    # mask, the Poseidonia and Isthmia ends (placed from memory of the map, to a few hundred metres: the line between
    # them runs 5.7 km on a bearing of 131°, the canal's), to the Saronic Gulf's water.
    Passage("Corinth Canal", (
        (22.94, 37.962), (22.9586, 37.9497), (23.0075, 37.9157), (23.03, 37.90),
    )),  # fmt: skip
    # The East River, from Long Island Sound past Throgs Neck and Hell Gate to the Upper Bay of New York Harbor
    # (barges, tankers and coasters use it): the mask closes it from the Bronx-Whitestone Bridge to the Battery,
    # so New Haven - New York went out around Montauk (314 km for a 113 km great circle). Points: the Sound's
    # water, the Throgs Neck, Bronx-Whitestone, Hell Gate, Queensboro, Williamsburg and Brooklyn bridges (their
    # positions as recalled from Wikipedia, not checked against it here: to a few hundred metres, which 1 km cells
    # forgive), the Buttermilk Channel off the Battery, the bay's water.
    Passage("East River", (
        (-73.775, 40.805), (-73.7944, 40.8003), (-73.8303, 40.8015), (-73.87, 40.795), (-73.9217, 40.7822),
        (-73.9540, 40.7569), (-73.9680, 40.7400), (-73.9724, 40.7136), (-73.9969, 40.7061), (-74.0150, 40.6960),
        (-74.035, 40.688),
    )),  # fmt: skip
    # The Cape Cod Canal, 11.9 km and 146 m wide, part of the Atlantic Intracoastal Waterway: land in the mask, so
    # Boston - Newport went round Cape Cod (272 km for a 100 km great circle). Points: Cape Cod Bay's water, the
    # east entrance and the Bourne Bridge (from memory of the map, to a few hundred metres), the canal's position as
    # wikimapia gives it (41°45'29"N 70°33'25"W), the railroad bridge (41.741944 N, 70.613833 W: Wikipedia, "List of
    # crossings of the Cape Cod Canal"), the dredged channel to Buzzards Bay's water.
    Passage("Cape Cod Canal", (
        (-70.475, 41.785), (-70.4970, 41.7750), (-70.5569, 41.7581), (-70.5897, 41.7475), (-70.6138, 41.7419),
        (-70.64, 41.725), (-70.665, 41.715),
    )),  # fmt: skip
    # The Chesapeake and Delaware Canal, 22.5 km, 137 m wide and 10.7 m deep (ocean-going ships use it): land in
    # the mask, so the upper Chesapeake (Baltimore) and the Delaware were joined only around Cape Charles and Cape
    # May. Points: the Elk River's water, Back Creek, Chesapeake City, the canal's position as Wikipedia gives it
    # (39°32'34"N 75°43'14"W), St. Georges, Reedy Point (the Delaware entrance), the Delaware's water; all but the
    # canal's position from memory of the map, to a few hundred metres.
    Passage("Chesapeake and Delaware Canal", (
        (-75.93, 39.48), (-75.88, 39.48), (-75.81, 39.527), (-75.72056, 39.54278), (-75.65, 39.553), (-75.567, 39.558),
        (-75.55, 39.56),
    )),  # fmt: skip
    # The Beagle Channel between its north-west arm and Ushuaia, 1-5 km wide: the mask closes it at three places
    # between 69.38 and 69.18 W, so Punta Arenas - Ushuaia left the channels and went round by the Strait of
    # Magellan's Atlantic mouth and the Le Maire Strait (625 km). Centre-line from the mask's own channel either
    # side of the closed cells. (The rest of the ferries' way, the Magdalena and Cockburn channels, is open in it.)
    Passage("Beagle Channel", (
        (-69.40, -54.893), (-69.3792, -54.8958), (-69.30, -54.915), (-69.2542, -54.9208), (-69.2292, -54.9208),
        (-69.21, -54.93), (-69.1958, -54.9292), (-69.1792, -54.9292), (-69.16, -54.945),
    )),  # fmt: skip
    # The way the Punta Arenas - Puerto Williams ferry and the cruise ships take west of the Beagle Channel (the
    # Magdalena and Cockburn channels, the Bahía Desolada, the Ballenero and O'Brien channels, the Beagle's
    # north-west arm, as a passenger plotted it: ameliasilver.com) is open in the mask but for three cells where
    # the channels meet near 70.7 W; closed, the route went out to sea round the islands and in by the Beagle's
    # south-west arm. Points read off the mask's water either side of them.
    Passage("Ballenero and O'Brien channels", (
        (-70.7208, -54.8458), (-70.7125, -54.8458), (-70.7042, -54.8458), (-70.6958, -54.8375), (-70.6792, -54.8292),
        (-70.6708, -54.8292), (-70.6625, -54.8292),
    )),  # fmt: skip
)
"""Channels opened along their centre-lines, whatever the mask says there."""


@dataclass(frozen=True)
class SeaDistance:
    """How far apart two points are by sea, and how that was measured."""

    km: float | None
    """The distance; None when there is no sea route (``no_route`` says why)."""
    method: Literal["route", "great circle"]
    """``route``: the shortest route over water on the land mask; ``great circle``: the caller's fallback."""
    cell_km: float | None = None
    """The routing grid's cell size (``route`` only)."""
    text: str = ""
    """How the distance was measured, or why it was not routed, in one phrase."""
    no_route: str | None = None
    """Why there is no sea route (a point farther than ``reach_km`` from the sea), None otherwise."""
    no_route_point: Literal[0, 1] | None = None
    """Which point ``no_route`` is about: 0 the first, 1 the second."""
    legs_km: tuple[float, float] = (0.0, 0.0)
    """How far each point lies from the water its route starts or ends in (a straight leg, counted in
    ``km``): more than ``snap_km`` for a port up a river or canal, which the mask does not have."""


def land_mask_file() -> Path | None:
    """The land mask's ``.npz`` in the installed ``global-land-mask`` package, or None when it is not installed.

    Found without importing the package, whose import decompresses the whole mask (about 1 GB).
    """
    spec = importlib.util.find_spec(MASK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _MASK_FILE
        if path.is_file():
            return path
    return None


def _mask_index(lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each point in the mask (row 0 at 90 N, column 0 at 180 W), as the package indexes them."""
    rows = np.clip(np.floor((90.0 - lats) * _PX_PER_DEG), 0, _ROWS - 1).astype(np.int32)
    cols = (np.floor((lons + 180.0) * _PX_PER_DEG).astype(np.int64) % _COLS).astype(np.int32)
    return rows, cols


def water_at(lons: np.ndarray, lats: np.ndarray, path: Path | None = None) -> np.ndarray:
    """Whether each point (degrees) is water in the land mask, reading only the mask's rows they fall in.

    The mask's rows are inflated a chunk at a time and dropped once their points are read, so memory
    stays at a few MB besides the points; a point set spanning 10° of latitude inflates a 5th of the
    mask's north-south extent above its southern edge. A mask file that cannot be read (damaged,
    truncated, not the mask) raises :class:`~sitewatch.errors.LandMaskError` naming it.
    """
    path = path or land_mask_file()
    if path is None:
        raise FileNotFoundError("the land mask is not installed: pip install global-land-mask")
    rows, cols = _mask_index(np.asarray(lons, float).ravel(), np.asarray(lats, float).ravel())
    return _water_at_index(rows, cols, path).reshape(np.shape(lons))


def _water_at_index(rows: np.ndarray, cols: np.ndarray, path: Path) -> np.ndarray:
    """The mask at (row, column) pairs, from the rows kept in this process or inflated to the last point's."""
    out = np.zeros(rows.size, bool)
    if not rows.size:
        return out
    try:
        return _read_mask_rows(rows, cols, path, out)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        # A damaged install (a truncated download, a full disk) gave "File is not a zip file" and a
        # traceback, naming neither the file nor what to do.
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise LandMaskError(
            f"{path}: the land mask cannot be read ({why}); reinstall it: pip install --force-reinstall global-land-mask"
        ) from exc


class _MaskRows:
    """Rows of the mask already inflated in this process, bit-packed, a chunk of ``_CHUNK_ROWS`` at a time.

    The mask is one zlib stream, so the rows at a latitude are reached only by inflating every row north of
    them: for a site at 43° N, 5,600 rows (240 MB inflated, about 1 s) for each pair of sites routed. ``links``
    over ten sites routes 45 pairs in the same band of latitude and inflated the same rows 45 times (most of its
    35 s); the chunks a route reads are kept here (8 cells to a byte: 346 kB a chunk, at most
    ``_CACHE_BYTES``, the least recently used dropped first), so that the next route in that band reads none.
    Keyed by the file and its size and modification time: a mask reinstalled is read afresh.
    """

    def __init__(self) -> None:
        self.key: tuple[str, int, int] | None = None
        self.chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        # The dashboard routes in its worker threads: one thread's eviction between another's check and read
        # would lose a chunk it was about to return.
        self.lock = threading.Lock()

    def get(self, path: Path, needed: np.ndarray) -> dict[int, np.ndarray] | None:
        """The packed chunks ``needed`` when every one is kept (marked as just used), else None."""
        key = self._key(path)
        with self.lock:
            if key != self.key:
                self.key, self.chunks = key, OrderedDict()
                return None
            if not all(int(c) in self.chunks for c in needed):
                return None
            for c in needed:
                self.chunks.move_to_end(int(c))
            return {int(c): self.chunks[int(c)] for c in needed}

    def put(self, path: Path, chunk: int, packed: np.ndarray) -> None:
        """Keep one packed chunk, dropping the least recently used beyond ``_CACHE_BYTES``."""
        key = self._key(path)
        with self.lock:
            if key != self.key:
                self.key, self.chunks = key, OrderedDict()
            self.chunks[chunk] = packed
            self.chunks.move_to_end(chunk)
            while sum(c.nbytes for c in self.chunks.values()) > _CACHE_BYTES:
                self.chunks.popitem(last=False)

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int]:
        st = path.stat()
        return str(path), st.st_size, st.st_mtime_ns


_CACHE_BYTES = 64 * 2**20  # 190 chunks: 12,000 rows, 100° of latitude; a 5,000 km square spans at most 45°
_mask_rows = _MaskRows()


def _bits(packed: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Cells (row within the chunk, column) of a chunk packed by :func:`numpy.packbits` (big-endian bits)."""
    return ((packed[rows, cols >> 3] >> (7 - (cols & 7)).astype(np.uint8)) & 1).astype(bool)


def _read_mask_rows(rows: np.ndarray, cols: np.ndarray, path: Path, out: np.ndarray) -> np.ndarray:
    chunk_of = rows // _CHUNK_ROWS
    needed = np.unique(chunk_of)
    kept = _mask_rows.get(path, needed)
    if kept is None:
        kept = _inflate_chunks(path, needed)
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], needed)
    for c, lo, hi in zip(needed, bounds, [*bounds[1:], rows.size], strict=True):
        idx = order[lo:hi]
        out[idx] = _bits(kept[int(c)], rows[idx] - int(c) * _CHUNK_ROWS, cols[idx])
    return out


def _inflate_chunks(path: Path, needed: np.ndarray) -> dict[int, np.ndarray]:
    """The ``needed`` chunks of rows, inflated from the top of the mask (rows above dropped), packed and kept."""
    got: dict[int, np.ndarray] = {}
    wanted = {int(c) for c in needed}
    with zipfile.ZipFile(path) as z, z.open("mask.npy") as f:
        version = npy_format.read_magic(f)
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if tuple(shape) != (_ROWS, _COLS) or fortran or np.dtype(dtype) != np.bool_:
            raise ValueError(f"not the 21600 × 43200 boolean land mask expected: {shape}, {dtype}")
        for c in range(max(wanted) + 1):
            n = min(_CHUNK_ROWS, _ROWS - c * _CHUNK_ROWS)
            data = _read_exactly(f, n * _COLS)
            if c in wanted:
                got[c] = np.packbits(np.frombuffer(data, np.uint8).reshape(n, _COLS), axis=1)
    for c in sorted(got):
        _mask_rows.put(path, c, got[c])
    return got


def _read_exactly(f: IO[bytes], size: int) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise EOFError("the mask ends early")
    return data


def great_circle_km(lon_a: float, lat_a: float, lon_b: float, lat_b: float) -> float:
    """Great-circle (haversine) distance in km on the mean Earth sphere."""
    p1, p2 = math.radians(lat_a), math.radians(lat_b)
    dp, dl = p2 - p1, math.radians(lon_b - lon_a)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _path_km(lons: np.ndarray, lats: np.ndarray) -> float:
    """Length of a polyline (degrees) on the mean Earth sphere, leg by leg (haversine)."""
    lon, lat = np.radians(lons), np.radians(lats)
    h = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    return float(np.sum(2 * _EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))))


@dataclass(frozen=True)
class _Area:
    """A square routing grid in an azimuthal-equidistant projection: cell (i, j) centre at x = x0 + j·cell, y = y0 - i·cell."""

    crs: str
    half_km: float
    cell_km: float

    @property
    def n(self) -> int:
        return int(math.ceil(2 * self.half_km / self.cell_km))

    def xy(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.cell_km * 1000
        return -self.half_km * 1000 + (j + 0.5) * c, self.half_km * 1000 - (i + 0.5) * c

    def ij(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.cell_km * 1000
        return (self.half_km * 1000 - y) / c - 0.5, (x + self.half_km * 1000) / c - 0.5


@functools.lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    """A transformer between two CRSs (lon/lat order), made once: making one looks the CRSs up in PROJ's
    database (about 40 ms), and a route made four, the same four for each square it tries."""
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def _water_grid(area: _Area, mask: Path, passages: Sequence[Passage]) -> np.ndarray:
    """The area's cells, True over water: the mask at each cell centre, with the passages opened."""
    to_lonlat = _transformer(area.crs, "EPSG:4326")
    n = area.n
    jj = np.arange(n)
    water = np.zeros((n, n), bool)
    band = max(1, 1_000_000 // n)  # a million cell centres through pyproj at a time
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for i0 in range(0, n, band):
        ii, jg = np.meshgrid(np.arange(i0, min(n, i0 + band)), jj, indexing="ij")
        lon, lat = to_lonlat.transform(*area.xy(ii, jg))
        r, c = _mask_index(np.asarray(lon).ravel(), np.asarray(lat).ravel())
        rows.append(r)
        cols.append(c)
    water[:] = _water_at_index(np.concatenate(rows), np.concatenate(cols), mask).reshape(n, n)
    to_xy = _transformer("EPSG:4326", area.crs)
    for p in passages:
        lon, lat = _densify(p.points, area.cell_km / 3)
        i, j = area.ij(*to_xy.transform(lon, lat))
        i, j = np.rint(i).astype(int), np.rint(j).astype(int)
        inside = (i >= 0) & (i < n) & (j >= 0) & (j < n)
        water[i[inside], j[inside]] = True
    return water


def _densify(points: Sequence[tuple[float, float]], step_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along a polyline (lon, lat) at most ``step_km`` apart (linear in degrees: legs of a few km)."""
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for (lon0, lat0), (lon1, lat1) in zip(points, points[1:], strict=False):
        km = great_circle_km(lon0, lat0, lon1, lat1)
        t = np.linspace(0, 1, max(2, int(math.ceil(km / step_km)) + 1))
        lons.append(lon0 + t * (lon1 - lon0))
        lats.append(lat0 + t * (lat1 - lat0))
    return np.concatenate(lons), np.concatenate(lats)


def _nearest_by_body(
    water: np.ndarray, bodies: np.ndarray, i: float, j: float, cells: int
) -> dict[int, tuple[float, tuple[int, int]]]:
    """For each body of water (its label in ``bodies``) with a cell within ``cells`` cells of (i, j): the
    distance to its nearest such cell, in cells, and that cell (the first of equals: the same every run)."""
    n = water.shape[0]
    ci, cj = int(round(i)), int(round(j))
    i0, i1, j0, j1 = max(0, ci - cells), min(n, ci + cells + 1), max(0, cj - cells), min(n, cj + cells + 1)
    if i0 >= i1 or j0 >= j1:
        return {}
    wi, wj = np.nonzero(water[i0:i1, j0:j1])
    d2 = (wi + i0 - i) ** 2 + (wj + j0 - j) ** 2
    inside = d2 <= (cells + 0.5) ** 2
    wi, wj, d2 = wi[inside], wj[inside], d2[inside]
    order = np.argsort(d2, kind="stable")
    labels = bodies[wi[order] + i0, wj[order] + j0]
    found, first = np.unique(labels, return_index=True)
    return {
        int(label): (float(np.sqrt(d2[order[k]])), (int(wi[order[k]] + i0), int(wj[order[k]] + j0)))
        for label, k in zip(found, first, strict=True)
    }


def _visible(water: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the straight segment between two cells stays over water (sampled every half cell)."""
    steps = int(math.ceil(2 * float(np.hypot(*(b - a))))) + 1
    t = np.linspace(0, 1, steps)[:, None]
    cells = np.rint(a + t * (b - a)).astype(int)
    return bool(water[cells[:, 0], cells[:, 1]].all())


def _pull_taut(water: np.ndarray, path: np.ndarray) -> np.ndarray:
    """The path's vertices with every run that a straight leg over water can replace cut out (greedy)."""
    keep = [0]
    i, last = 0, len(path) - 1
    while i < last:
        # Farthest visible vertex: grow the step while visible, then halve back (visibility is not
        # monotone along a path; every leg kept is checked, so the result stays over water).
        step = 1
        while i + step * 2 <= last and _visible(water, path[i], path[i + step * 2]):
            step *= 2
        lo, hi = i + step, min(last, i + step * 2)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _visible(water, path[i], path[mid]):
                lo = mid
            else:
                hi = mid - 1
        keep.append(lo)
        i = lo
    return path[keep]


def sea_distance(
    lon_a: float,
    lat_a: float,
    lon_b: float,
    lat_b: float,
    *,
    cell_km: float = 1.0,
    snap_km: float = 5.0,
    reach_km: float = 100.0,
    max_area_km: float = 5000.0,
    passages: Sequence[Passage] = PASSAGES,
    mask: Path | None = None,
) -> SeaDistance:
    """The shortest route over water from A to B (degrees), or why there is none or it was not routed.

    ``method`` is ``route`` with ``km`` when a route was found; ``route`` with ``km`` None and
    ``no_route`` when a point is farther than ``reach_km`` from the sea; ``great circle`` with ``km``
    None when the route could not be measured (the mask is not installed or cannot be read, the points
    are too far apart for a square of side ``max_area_km``, or no route was found in it): the caller
    falls back, and ``text`` says why. The route is never shorter than the great circle from A to B.
    Coordinates that are not finite, or a latitude beyond ±90°, raise
    :class:`~sitewatch.errors.InputError`, as do sizes that are not positive.

    Kept for the process (the last 256 asked): the report, the claims, the alerts and each dashboard
    page that shows links route the same pairs again: 1.5 s for Nampo-Vladivostok, 6-7 s for a pair with
    no route, whose square grows to ``max_area_km``. So are the mask's rows a route read (:class:`_MaskRows`):
    reaching them is most of a short route's time, and the other pairs of a run lie in the same band.
    """
    for name, value in (("lon_a", lon_a), ("lat_a", lat_a), ("lon_b", lon_b), ("lat_b", lat_b)):
        if not math.isfinite(value) or (name.startswith("lat") and abs(value) > 90):
            raise InputError(f"sea_distance: {name} must be a finite {'latitude (±90°)' if name.startswith('lat') else 'longitude'}"
                             f" in degrees, got {value}")  # fmt: skip
    for name, value in (("cell_km", cell_km), ("snap_km", snap_km), ("reach_km", reach_km), ("max_area_km", max_area_km)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"sea_distance: {name} must be a positive number of km, got {value}")
    mask = mask or land_mask_file()
    return _sea_distance(lon_a, lat_a, lon_b, lat_b, cell_km, snap_km, reach_km, max_area_km, tuple(passages), mask)


@functools.lru_cache(maxsize=256)
def _sea_distance(
    lon_a: float, lat_a: float, lon_b: float, lat_b: float, cell_km: float, snap_km: float, reach_km: float,
    max_area_km: float, passages: tuple[Passage, ...], mask: Path | None,
) -> SeaDistance:  # fmt: skip
    from pyproj import Geod
    from skimage.graph import MCP_Geometric

    if mask is None:
        return SeaDistance(None, "great circle", text="the land mask is not installed (pip install global-land-mask)")
    geod = Geod(ellps="sphere", a=_EARTH_RADIUS_KM * 1000, b=_EARTH_RADIUS_KM * 1000)
    az, _, metres = geod.inv(lon_a, lat_a, lon_b, lat_b)
    mid_lon, mid_lat, _ = geod.fwd(lon_a, lat_a, az, metres / 2)
    crs = f"+proj=aeqd +lat_0={mid_lat:.6f} +lon_0={mid_lon:.6f} +R={_EARTH_RADIUS_KM * 1000} +units=m +no_defs"
    to_xy = _transformer("EPSG:4326", crs)
    (xa, xb), (ya, yb) = to_xy.transform([lon_a, lon_b], [lat_a, lat_b])
    if max(abs(xa), abs(ya), abs(xb), abs(yb)) / 1000 + max(snap_km, reach_km) >= max_area_km / 2:
        # Outside the largest square a point found no water near it, and was called inland.
        return SeaDistance(None, "great circle", text=f"the points are {metres / 1000:.0f} km apart, too far for the "
                                                      f"largest area searched ({max_area_km:.0f} km square)")  # fmt: skip
    half = min(max(0.75 * metres / 1000, 50.0), max_area_km / 2)
    while True:
        area = _Area(crs, half, max(cell_km, 2 * half / _MAX_SIDE))
        try:
            water = _water_grid(area, mask, passages)
        except LandMaskError as exc:
            return SeaDistance(None, "great circle", text=str(exc))
        # Each point starts from the nearest water within reach that belongs to a body of water the
        # other point can reach too: the nearest water may be a lagoon or a dock cut off from the sea.
        reach_cells = max(1, int(math.ceil(max(snap_km, reach_km) / area.cell_km)))
        # scipy.ndimage (0.25 s) when a land mask is labelled, not for `links --help` or a Tab.
        from scipy import ndimage

        bodies, _ = ndimage.label(water, structure=np.ones((3, 3), bool))
        near = []
        for k, (x, y) in enumerate(((xa, ya), (xb, yb))):
            i, j = area.ij(np.array(x), np.array(y))
            bodies_near = _nearest_by_body(water, bodies, float(i), float(j), reach_cells)
            # A point on the sea keeps to the water it is on: a straight leg to other water (across a
            # headland, an isthmus or a closed strait) is for a point with no water near it alone.
            on = {b: v for b, v in bodies_near.items() if v[0] * area.cell_km <= snap_km}
            near.append(on or bodies_near)
            if not near[k]:
                where = ("first", lon_a, lat_a) if k == 0 else ("second", lon_b, lat_b)
                return SeaDistance(
                    None, "route", area.cell_km,
                    no_route=f"the {where[0]} point ({where[1]:.3f}, {where[2]:.3f}) is more than "
                             f"{max(snap_km, reach_km):g} km from the sea on the 1 km land mask",
                    no_route_point=0 if k == 0 else 1,
                )  # fmt: skip
        shared = near[0].keys() & near[1].keys()
        edge = False
        path: np.ndarray | None = None  # None: no body of water both points reach in this square (grow it)
        if shared:
            body = min(shared, key=lambda b: (near[0][b][0] + near[1][b][0], b))
            start, end = near[0][body][1], near[1][body][1]
            legs = (near[0][body][0] * area.cell_km, near[1][body][0] * area.cell_km)
            if start == end:
                path = np.array([start])
            else:
                mcp = MCP_Geometric(np.where(water, 1.0, np.inf), fully_connected=True)
                costs, _ = mcp.find_costs([start], [end])
                if np.isfinite(costs[end]):
                    path = np.array(mcp.traceback(end))
                    edge = bool((path.min() <= 1) or (path.max() >= area.n - 2))
        if path is not None and not edge:
            break
        if half >= max_area_km / 2:
            why = "the route runs along the edge of" if path is not None else "no route over water was found in"
            return SeaDistance(None, "great circle", area.cell_km,
                               text=f"{why} the largest area searched ({2 * half:.0f} km square at {area.cell_km:.1f} km cells)")  # fmt: skip
        half = min(2 * half, max_area_km / 2)
    if len(path) == 1:
        # Both points nearest the same water cell: straight across it (through the cell's centre, two
        # points at the same place were 1.4 km apart).
        km = metres / 1000
    else:
        taut = _pull_taut(water, path.astype(float))
        to_lonlat = _transformer(crs, "EPSG:4326")
        lon, lat = to_lonlat.transform(*area.xy(taut[:, 0], taut[:, 1]))
        km = _path_km(np.r_[lon_a, lon, lon_b], np.r_[lat_a, lat, lat_b])
    return SeaDistance(
        round(km, 1), "route", round(area.cell_km, 2),
        text=f"routed over water on a 1 km land mask at {area.cell_km:.1f} km cells",
        legs_km=(round(legs[0], 1), round(legs[1], 1)),
    )  # fmt: skip
