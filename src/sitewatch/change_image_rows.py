"""``change-image``'s pair read a chunk of rows at a time (:class:`_BandRows`) when that gives the values
of the whole read: optical band files of integer DN, both dates on one grid in metres (:func:`_rows_pair`);
SAR images of one float32 or uint16 band, both on one grid in metres (:class:`_SarRows`, :func:`_sar_rows_pair`).
The comparison goes down the grid in blocks of rows (:mod:`sitewatch.change.blocks`), several passes, and
reads each block's rows as it goes, instead of holding a whole tile's stacks (2 GB a date). Files that are
dear to decode again (JPEG 2000, as a Sentinel-2 product holds its bands) are decoded once, in the first
pass, into a temporary file of their values as stored (:class:`_Spill`), which the later passes read.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .change.compare import OPTICAL_BANDS
from .errors import InputError, OutputError
from .model import Grid

if TYPE_CHECKING:
    from .change_image import _Date

__all__: list[str] = []


_STREAMED_DTYPES = ("uint8", "uint16", "int16")
"""Band types whose DN scale :func:`_streamed_dn_scale` takes from a histogram of every value (exact)."""


class _BandRows:
    """A date's reflectance bands read from their files a chunk of rows at a time, as :func:`_read_optical`
    reads them whole (bands × rows × cols float32, NaN where there is no data): ``rows[:, a:b]`` (every
    band) or ``rows[k, a:b]`` (band ``k``). The comparison reads the grid block by block in several passes
    down it, instead of holding a whole tile's stack (2 GB a date). Chunks are whole blocks of the files'
    tiling; the last two read are kept (a block and its halo straddle at most two), and the one dropped is
    the array the next is read into (not a fresh 90 MB for each chunk of a tile, faulted in page by page).
    So rows within one chunk are given as a view of it, good until two other chunks have been read: the
    comparison is done with a block's rows before it reads the next block's."""

    ndim = 3
    dtype = np.dtype(np.float32)

    rendering = False
    """8-bit band files (:attr:`~sitewatch.change.pair.ChangeImage.rendering`), set by :func:`_rows_pair`."""

    def __init__(self, src: Any, scale: float | None, names: tuple[str, ...], spill: _Spill | None = None) -> None:
        self.src, self.scale, self.names, self.spill = src, scale, names, spill
        self.shape = (len(names), src.info.height, src.info.width)
        self._chunk = _chunk_rows(src)
        self._kept: dict[int, NDArray[np.float32]] = {}

    def _read(self, i: int) -> NDArray[np.float32]:
        if i not in self._kept:
            a, b = i * self._chunk, min(self.shape[1], (i + 1) * self._chunk)
            shape = (len(self.names), b - a, self.shape[2])
            spare = [v for k, v in self._kept.items() if k != i - 1 and v.shape == shape]
            chunk = spare[0] if spare else np.empty(shape, np.float32)
            self._fill(chunk, a, b)
            self._kept = {**{k: v for k, v in self._kept.items() if k == i - 1}, i: chunk}
        return self._kept[i]

    def _fill(self, chunk: NDArray[np.float32], a: int, b: int) -> None:
        """Rows ``a`` to ``b`` of every band into ``chunk``."""
        from .detect.optical_image import _read_raw, _to_reflectance

        raw = self.spill.read(a, b) if self.spill is not None else _read_raw(self.src, (a, b, 0, self.shape[2]))
        bands, valid, _ = _to_reflectance(self.src, raw, self.scale, 0.0)
        for j, n in enumerate(self.names):  # np.where(valid, band, nan) of each, with one copy
            chunk[j] = bands.pop(n)
            chunk[j][~valid] = np.nan

    def __getitem__(self, key: Any) -> NDArray[np.float32]:
        band, rows = key if isinstance(key, tuple) else (key, slice(None))
        a, b, _ = rows.indices(self.shape[1])
        c = self._chunk
        first, last = a // c, max(a, b - 1) // c
        if first == last:
            return self._read(first)[band, a - first * c : b - first * c]
        # Rows of several chunks: each copied out before the next is read (into the array of one dropped).
        out = np.empty((*self.shape[:1], b - a, self.shape[2]) if isinstance(band, slice) else (b - a, self.shape[2]), np.float32)
        if isinstance(band, slice):
            out = out[band]
        for i in range(first, last + 1):
            lo, hi = max(a, i * c), min(b, (i + 1) * c)
            out[..., lo - a : hi - a, :] = self._read(i)[band, lo - i * c : hi - i * c]
        return out


class _Spill:
    """A date's values as :func:`~sitewatch.detect.optical_image._read_raw` reads them (every band, alpha,
    SCL), kept in a temporary file as they are read in the first pass down the grid, rows ``a`` to ``b``
    given back by :meth:`read`. For files dear to decode again, such as JPEG 2000 (a Sentinel-2 tile's band
    takes seconds to decode whole, and the comparison goes down the grid several times): the bytes as
    stored, 2 a pixel a band for 16-bit DN (a tile pair's eight bands 1.9 GB of disk). The file is removed
    from its folder as it is made, so nothing stays behind, even if the process is killed. It is read with
    plain reads, not mapped, so its pages count as the system's file cache, not the process's memory."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.folder = Path(tempfile.gettempdir())
        self._file = tempfile.TemporaryFile(prefix="sitewatch-rows-", dir=self.folder)
        # The pair that reads it is handed to the caller, with no close of its own: the file is closed
        # when the spill goes (as TemporaryDirectory is removed), not by the file object's own finaliser,
        # which warns (ResourceWarning, "unclosed file"). :meth:`close` closes it sooner.
        self._closer = weakref.finalize(self, self._file.close)
        self._at: dict[str, tuple[int, np.dtype[Any]]] = {}  # each value's offset in the file and its type
        self._end = 0

    def close(self) -> None:
        """Close (and so remove) the file; the rows kept can no longer be read."""
        self._closer()

    def write(self, a: int, raw: dict[str, NDArray[Any]]) -> None:
        """Keep ``raw``'s rows, the grid's from row ``a`` on (chunks written top to bottom)."""
        for name, v in raw.items():
            if name not in self._at:
                self._at[name] = (self._end, v.dtype)
                self._end += self.height * self.width * v.dtype.itemsize
            start, dtype = self._at[name]
            left = np.ascontiguousarray(v, dtype).data.cast("B")
            at = start + a * self.width * dtype.itemsize
            try:
                while left:  # a write the disk filled during is cut short, not failed: its next part says why
                    n = os.pwrite(self._file.fileno(), left, at)
                    left, at = left[n:], at + n
            except OSError as exc:
                raise OutputError(
                    f"{self.folder}: cannot keep the images' values there while they are compared "
                    f"({exc.strerror or exc}); free some room there, or set TMPDIR to a folder on a disk with more "
                    "(a Sentinel-2 tile pair takes about 2 GB)"
                ) from exc

    def read(self, a: int, b: int) -> dict[str, NDArray[Any]]:
        """Rows ``a`` to ``b`` of every value kept, as written."""
        out: dict[str, NDArray[Any]] = {}
        for name, (start, dtype) in self._at.items():
            v = np.empty((b - a, self.width), dtype)
            view = v.data.cast("B")
            got = os.preadv(self._file.fileno(), [view], start + a * self.width * dtype.itemsize)
            if got != view.nbytes:
                raise OSError(f"the temporary copy of the image's rows {a}-{b} came back short ({got} of {view.nbytes} bytes)")
            out[name] = v
        return out


def _dear_to_decode(src: Any) -> bool:
    """Whether any of the source's band files is in a format dear to decode again (anything but GeoTIFF:
    JPEG 2000 above all), so that its values are worth keeping in a :class:`_Spill` after the first pass."""
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, _ in src.bands.values():
            with rasterio.open(path) as ds:
                if ds.driver not in ("GTiff", "COG"):
                    return True
    return False


def _chunk_rows(src: Any) -> int:
    """Rows a :class:`_BandRows` chunk holds: :func:`_file_chunk_rows` of the first band file."""
    path, idx = next(iter(src.bands.values()))
    return _file_chunk_rows(path, idx)


def _file_chunk_rows(path: Any, idx: int = 1) -> int:
    """Rows a chunk of band ``idx`` of ``path`` holds: its tile height (256 to 1,024 rows: a file of one
    block, or strips of a row, is read in chunks of those), so that each tile is decoded once a pass."""
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as ds:
            return min(1024, max(256, int(ds.block_shapes[idx - 1][0])))


def _dtypes(src: Any) -> list[str]:
    import rasterio

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, idx in src.bands.values():
            with rasterio.open(path) as ds:
                out.append(ds.dtypes[idx - 1])
    return out


def _streamed_dn_scale(hist: NDArray[np.int64], dtypes: list[str]) -> float | None:
    """:func:`~sitewatch.detect.optical_reflectance.infer_dn_scale` of bands of ``dtypes`` from ``hist``, each
    band's count of every value 0 to 65535 (bands × 65536): the same answer, which turns on whether a band's
    99th percentile of its values between 0 and 65535 exceeds 15,000. The percentile is bracketed by order
    statistics read off the counts; only when they straddle 15,000 is it computed from the values laid out."""
    from .detect.optical_reflectance import _STRETCHED_P99

    if all(t == "uint8" for t in dtypes):
        return 255.0
    for counts in hist[:, 1:65535]:
        n = int(counts.sum())
        if not n:
            continue
        cum = np.cumsum(counts)
        lo = max(0, int(math.floor((n - 1) * 0.99)) - 1)
        hi = min(n - 1, lo + 3)
        v_lo, v_hi = (int(np.searchsorted(cum, r, side="right")) + 1 for r in (lo, hi))
        if v_lo > _STRETCHED_P99:
            return 65535.0
        if v_hi > _STRETCHED_P99 and float(np.percentile(np.repeat(np.arange(1, 65535, dtype=np.uint16), counts), 99)) > _STRETCHED_P99:
            return 65535.0
    return 10000.0


def _rows_pair(
    b_date: _Date, a_date: _Date, pixel_size: float | None, dn_scale: float | None,
) -> tuple[_BandRows, _BandRows, Grid] | None:  # fmt: skip
    """The two dates as :class:`_BandRows` on the earlier's grid, when they can be read a block of rows at
    a time to the same values as whole: optical, both on one grid in metres (nothing to warp), bands of
    integer DN (a DN scale from every value, :func:`_streamed_dn_scale`); None otherwise. Raises
    :class:`InputError` as the whole read does: no optical band, or no pixel with data in both dates."""
    from .detect.optical_image import _read_raw, _to_reflectance, declared_applies, open_optical

    srcs: list[Any] = []
    names: list[tuple[str, ...]] = []
    for d in (b_date, a_date):  # one date after the other, as the whole read opens them (errors in the same order)
        srcs.append(open_optical(d.bands if d.image is None else d.image, pixel_size, scale_given=dn_scale is not None))
        names.append(tuple(n for n in OPTICAL_BANDS if n in srcs[-1].bands))
        if not names[-1]:
            return None  # the whole read names the date without them
    infos = [s.info for s in srcs]
    if infos[0].crs is None or infos[0].transform is None or infos[1].transform is None or infos[1].crs is None:
        return None
    from .change_image import _metric, _Raster

    rasters = [_Raster(np.zeros((0, i.height, i.width), np.float32), n, i.crs, i.transform, i.pixel_size) for i, n in zip(infos, names, strict=True)]
    t = infos[0].transform
    same = (infos[1].crs == infos[0].crs and tuple(infos[1].transform)[:6] == (t.a, t.b, t.c, t.d, t.e, t.f)
            and (infos[1].height, infos[1].width) == (infos[0].height, infos[0].width))  # fmt: skip
    dtypes = [_dtypes(s) for s in srcs]
    if not (same and _metric(rasters[0])) or any(t not in _STREAMED_DTYPES for ts in dtypes for t in ts):
        return None
    common = tuple(n for n in names[0] if n in names[1])
    height, width = infos[0].height, infos[0].width
    hists = [np.zeros((len(s.bands), 65536), np.int64) for s in srcs]
    spills = [_Spill(height, width) if _dear_to_decode(s) else None for s in srcs]
    try:
        chunk = _chunk_rows(srcs[0])
        overlap = False
        for a in range(0, height, chunk):
            valid = []
            for s, hist, spill in zip(srcs, hists, spills, strict=True):
                raw = _read_raw(s, (a, min(height, a + chunk), 0, width))
                if spill is not None:
                    spill.write(a, raw)
                if dn_scale is None and not declared_applies(s, None):
                    for j, band in enumerate(s.bands):
                        v = raw[band].ravel()
                        hist[j] += np.bincount(v[v > 0] if v.dtype.kind == "i" else v, minlength=65536)
                valid.append(_to_reflectance(s, raw, 1.0, 0.0)[1])
            overlap = overlap or bool((valid[0] & valid[1]).any())
        if not overlap:
            raise InputError(f"{b_date.label} and {a_date.label} do not overlap (no pixel with data in both)")
        # A date whose files declare their bands' scale and offset is read by them (None: _to_reflectance takes them).
        scales = [
            dn_scale if dn_scale is not None or declared_applies(s, None) else _streamed_dn_scale(h, d)
            for s, h, d in zip(srcs, hists, dtypes, strict=True)
        ]
        grid = Grid(crs=infos[0].crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=width, height=height)
        rows = (_BandRows(srcs[0], scales[0], common, spills[0]), _BandRows(srcs[1], scales[1], common, spills[1]))
        for r, ts in zip(rows, dtypes, strict=True):
            r.rendering = all(t == "uint8" for t in ts)
        return (*rows, grid)
    except BaseException:
        # Refused (no overlap) or failed mid-read: the spills go with the error, closed now rather than
        # when the traceback that holds them is collected.
        for spill in spills:
            if spill is not None:
                spill.close()
        raise


_SAR_DTYPES = ("float32", "uint16")
"""SAR image types :func:`_sar_rows_pair` reads a chunk of rows at a time (one band: sigma0 or dB, amplitude DN)."""


class _SarRows(_BandRows):
    """A SAR image read a chunk of rows at a time as :func:`~sitewatch.change_image._read_sar` reads it whole
    (1 × rows × cols float32 linear intensity, NaN where there is no data): dB made intensity when the whole
    image's least value is negative (``db``, found by :func:`_sar_rows_pair`'s pass), amplitude DN squared."""

    def __init__(self, info: Any, db: bool, chunk: int) -> None:
        from .detect.image import _sar_window_reader

        self.info, self.db, self.names = info, db, ("VV",)
        self.reader = _sar_window_reader(info)
        self.shape = (1, info.height, info.width)
        self._chunk = chunk
        self._kept = {}

    def _fill(self, chunk: NDArray[np.float32], a: int, b: int) -> None:
        """Rows ``a`` to ``b`` into ``chunk``, elementwise as the whole read converts them."""
        values, valid = self.reader((a, b, 0, self.shape[2]))
        x = values.astype(np.float32)
        if valid is not None:
            x[~valid] = np.nan
        if self.db:
            x = np.power(np.float32(10.0), x / np.float32(10.0))
        elif np.issubdtype(values.dtype, np.integer):
            x = np.square(x)
        chunk[0] = x


def _sar_rows_pair(b_date: _Date, a_date: _Date, pixel_size: float | None) -> tuple[_SarRows, _SarRows, Grid] | None:
    """The two dates as :class:`_SarRows` on the earlier's grid, when they can be read a block of rows at a
    time to the same values as whole: image files of one float32 or uint16 band (no 8-bit rendering stored
    wider), both on one grid in metres; None otherwise, and whenever the whole read would refuse the pair
    (it is then read whole, to the same error). One pass down both images first: each one's least and most
    value (dB or not, as the whole read tells it), and whether they overlap."""

    from .change_image import _metric, _Raster
    from .detect.image import _MAX_DB, _sar_window_reader, open_image_info

    infos: list[Any] = []
    for d in (b_date, a_date):
        if d.image is None or not isinstance(d.image, Path) or not d.image.exists():
            return None
        info = open_image_info(d.image, pixel_size, renderings=True)
        if info.source is not None or info.rendering_divisor is not None or info.count != 1 or info.dtype not in _SAR_DTYPES:
            return None
        if info.crs is None or info.transform is None:
            return None
        infos.append(info)
    b, a = infos
    t = b.transform
    same = a.crs == b.crs and tuple(a.transform)[:6] == (t.a, t.b, t.c, t.d, t.e, t.f) and (a.height, a.width) == (b.height, b.width)
    if not (same and _metric(_Raster(np.zeros((0, b.height, b.width), np.float32), ("VV",), b.crs, t, b.pixel_size))):
        return None
    chunk = _file_chunk_rows(b.path)
    readers = [_sar_window_reader(i) for i in infos]
    lo, hi, low = [math.inf, math.inf], [-math.inf, -math.inf], [math.inf, math.inf]
    overlap = False
    for r in range(0, b.height, chunk):
        finite = []
        for k, read in enumerate(readers):
            try:
                values, valid = read((r, min(b.height, r + chunk), 0, b.width))
            except InputError:
                return None
            x = values.astype(np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if values.dtype.kind == "f":  # the whole read refuses float pixels neither sigma0 nor dB
                    lo[k] = min(lo[k], float(np.nanmin(values, initial=np.inf)))
                    hi[k] = max(hi[k], float(np.nanmax(values, initial=-np.inf)))
                if valid is not None:
                    x[~valid] = np.nan
                low[k] = min(low[k], float(np.nanmin(x, initial=np.inf)))
            finite.append(np.isfinite(x))
        overlap = overlap or bool((finite[0] & finite[1]).any())
    if any(lo[k] < 0 and hi[k] > _MAX_DB for k in range(2)) or not overlap:
        return None  # the whole read's refusal, in its words
    dbs = [(i.dtype == "float32" or i.scaling is not None) and low[k] < 0 for k, i in enumerate(infos)]
    grid = Grid(crs=b.crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=b.width, height=b.height)
    return _SarRows(b, dbs[0], chunk), _SarRows(a, dbs[1], chunk), grid
