"""Sentinel-1 GRD radiometry: sigma0 from a product's digital numbers and its calibration and noise LUTs.

What ESA's product specification and SNAP (Calibration after ThermalNoiseRemoval) give, and
what this module computes for any window of a measurement::

    sigma0 = (DN² − N) / A²

- **A**, the calibration LUT's ``sigmaNought``: one ``calibrationVector`` every so many lines,
  each with values at a list of ``pixel`` positions; interpolated bilinearly in (line, pixel).
- **N**, the thermal noise power: the noise range LUT (``noiseRangeVector``: line, pixels,
  ``noiseRangeLut``), interpolated bilinearly as A is, times — in products of IPF 2.9 and later —
  the noise azimuth LUT: ``noiseAzimuthVector`` blocks, each over lines
  ``firstAzimuthLine``–``lastAzimuthLine`` and samples ``firstRangeSample``–``lastRangeSample`` (a
  sub-swath's stretch), whose ``noiseAzimuthLut`` is interpolated along its ``line`` list and is
  constant across the block's samples. A pixel outside every block has no noise subtracted, as in
  SNAP. Products of IPF < 2.9 have one ``noiseVectorList`` of ``noiseVector`` (``noiseLut``) and no
  azimuth part.
- Beyond the first and last vector (or knot), a LUT is held at its end value.
- Where DN² − N ≤ 0 (the noise estimate above the measured power: dark sea, mostly in VH)
  the power is set to :data:`NOISE_FLOOR_DN2` before dividing by A², as SNAP's
  ThermalNoiseRemoval does: a small positive sigma0 (about −73 dB for A = 500), never 0, which
  is sitewatch's SAR no-data value, nor negative, which the detector would take for dB.
- DN 0 is no data and stays 0.

Whether N is subtracted at all is the ``sar_thermal_noise`` setting (:data:`ThermalNoise`). By
default it is not — sigma0 = DN² / A², the noise in — because that is what the SAR detector was
tuned and validated on (OpenSARShip's calibrated ``Patch_Cal`` chips): with a noise of −30 dB
taken out of those chips its length error against AIS grows from 15.9 to 17.2 m, and at −27 dB,
a sixth of the VH pixels floored, to 18.2 m (``benchmarks/sar_noise_floor.py``).
``subtract`` gives SNAP's numbers, for other analyses.

Only the window asked for is evaluated, in strips of at most :data:`STRIP_PIXELS`, so a
25,000 × 17,000 product costs the memory of the window read, not of the product.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..untrusted import parse_xml

__all__ = [
    "NOISE_FLOOR_DN2",
    "ThermalNoise",
    "LineVectors",
    "AzimuthBlock",
    "NoiseLut",
    "S1Radiometry",
    "parse_calibration",
    "parse_noise",
]

NOISE_FLOOR_DN2 = 0.0123456789
"""Power (DN²) that a pixel whose noise-subtracted power is not positive is given, as SNAP's
ThermalNoiseRemoval gives it (its ``trgFloorValue``), so that sigma0 matches SNAP's chain pixel for pixel."""

ThermalNoise = Literal["keep", "subtract"]
"""``keep``: sigma0 = DN² / A², the noise LUT not read; ``subtract``: sigma0 = (DN² − N) / A²
(setting ``sar_thermal_noise``, :data:`sitewatch.config.SAR_THERMAL_NOISE`)."""

KEPT_BY_SETTING = (
    "thermal noise not subtracted (setting sar_thermal_noise = keep: the SAR detector was validated on "
    "sigma0 with the noise in; subtract removes it as SNAP's ThermalNoiseRemoval does)"
)
"""What the provenance says of a measurement whose noise was kept by choice."""

STRIP_PIXELS = 1 << 18
"""Most pixels evaluated at once: a few float32 arrays of this size (1 MB each) are alive at a time,
which stay in the CPU's cache through the passes over them."""


@dataclass(frozen=True)
class LineVectors:
    """A LUT given as vectors across range at some lines, read bilinearly in (line, pixel)."""

    lines: NDArray[np.float64]
    """Line of each vector, non-decreasing."""
    pixels: tuple[NDArray[np.float64], ...]
    """Pixel positions of each vector's values, increasing."""
    values: tuple[NDArray[np.float64], ...]

    def __post_init__(self) -> None:
        if not len(self.lines) or len(self.lines) != len(self.pixels) or len(self.pixels) != len(self.values):
            raise ValueError("a LUT needs one pixel list and one value list per vector, and at least one vector")
        if np.any(np.diff(self.lines) < 0):
            raise ValueError("the vectors' lines do not increase")
        for p, v in zip(self.pixels, self.values, strict=True):
            if not len(p) or len(p) != len(v):
                raise ValueError(f"a vector has {len(p)} pixels but {len(v)} values")
            if np.any(np.diff(p) <= 0):
                raise ValueError("a vector's pixels do not increase")

    def at(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float32]:
        """The LUT at every (row, col) of ``rows`` × ``cols`` (len(rows) × len(cols)); ``rows`` increasing."""
        c = cols.astype(np.float64)
        n = len(self.lines)
        out = np.empty((len(rows), len(cols)), np.float32)
        if n == 1:
            out[:] = np.interp(c, self.pixels[0], self.values[0])
            return out
        i = np.clip(np.searchsorted(self.lines, rows, side="right") - 1, 0, n - 2)
        span = self.lines[i + 1] - self.lines[i]
        t = np.clip(np.divide(rows - self.lines[i], span, out=np.zeros(len(rows)), where=span > 0), 0.0, 1.0)
        # Rows between the same two vectors form one run: each row is lo + t (hi - lo), two passes.
        starts = np.flatnonzero(np.diff(i, prepend=-1))
        for a, b in zip(starts, [*starts[1:], len(rows)], strict=True):
            lo = np.interp(c, self.pixels[i[a]], self.values[i[a]]).astype(np.float32)
            step = np.interp(c, self.pixels[i[a] + 1], self.values[i[a] + 1]).astype(np.float32) - lo
            np.multiply(t[a:b, None].astype(np.float32), step, out=out[a:b])
            out[a:b] += lo
        return out


@dataclass(frozen=True)
class AzimuthBlock:
    """One ``noiseAzimuthVector``: the azimuth part of the noise over a block of lines and samples."""

    swath: str
    first_line: int
    last_line: int
    first_sample: int
    last_sample: int
    """The block, lines and samples both inclusive."""
    lines: NDArray[np.float64]
    values: NDArray[np.float64]

    def __post_init__(self) -> None:
        if not len(self.lines) or len(self.lines) != len(self.values):
            raise ValueError(f"a noise azimuth vector ({self.swath}) has {len(self.lines)} lines but {len(self.values)} values")
        if np.any(np.diff(self.lines) <= 0):
            raise ValueError(f"a noise azimuth vector's lines ({self.swath}) do not increase")


@dataclass(frozen=True)
class NoiseLut:
    """The thermal noise power N of a measurement, in DN²."""

    range: LineVectors
    azimuth: tuple[AzimuthBlock, ...] = ()
    kind: Literal["range-azimuth", "range"] = "range"
    """``range-azimuth``: IPF ≥ 2.9, N = range LUT × azimuth LUT; ``range``: the range LUT alone
    (IPF < 2.9, or a product of the new format without azimuth vectors)."""

    def at(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float32]:
        """N at every (row, col) of ``rows`` × ``cols``; ``rows`` and ``cols`` increasing."""
        noise = self.range.at(rows, cols)
        if self.kind == "range":
            return noise
        covered = np.zeros(noise.shape, bool)
        for b in self.azimuth:
            r0, r1 = np.searchsorted(rows, [b.first_line, b.last_line + 1])
            c0, c1 = np.searchsorted(cols, [b.first_sample, b.last_sample + 1])
            if r1 > r0 and c1 > c0:
                noise[r0:r1, c0:c1] *= np.interp(rows[r0:r1], b.lines, b.values).astype(np.float32)[:, None]
                covered[r0:r1, c0:c1] = True
        noise[~covered] = 0.0  # outside every block: no noise, as SNAP has it
        return noise


@dataclass(frozen=True)
class S1Radiometry:
    """How one measurement's DN become sigma0: its calibration LUT and, when read, its noise LUT.

    Without a noise LUT and without :attr:`noise_missing`, the noise is kept by choice (setting
    ``sar_thermal_noise = keep``)."""

    calibration: LineVectors
    """sigmaNought (A) of the calibration LUT."""
    calibration_file: str
    noise: NoiseLut | None = None
    noise_file: str = ""
    noise_missing: str = ""
    """Why no noise is subtracted although it was asked for (the noise file missing or unreadable);
    "" when it is subtracted, or kept by choice."""

    def sigma0(self, dn: NDArray[np.generic], row0: int, col0: int) -> NDArray[np.float32]:
        """sigma0 of the window of DN ``dn`` whose first pixel is (``row0``, ``col0``) of the measurement.

        DN 0 (or not finite: a masked read's NaN) gives 0, the no-data value; a power not above the
        noise gives :data:`NOISE_FLOOR_DN2` / A².
        """
        h, w = dn.shape
        out = np.zeros((h, w), np.float32)
        cols = np.arange(col0, col0 + w, dtype=np.int64)
        step = max(1, STRIP_PIXELS // max(w, 1))
        for s in range(0, h, step):
            rows = np.arange(row0 + s, row0 + min(h, s + step), dtype=np.int64)
            power = np.array(dn[s : s + len(rows)], dtype=np.float32)  # a copy: the caller's DN stay
            data = power > 0  # DN 0, and NaN where a masked read left no data, are no data
            if not data.any():
                continue
            power *= power
            if self.noise is not None:
                power -= self.noise.at(rows, cols)
                np.copyto(power, np.float32(NOISE_FLOOR_DN2), where=~(power > 0))
            a = self.calibration.at(rows, cols)
            a *= a
            power /= a
            power[~data] = 0.0
            out[s : s + len(rows)] = power
        return out

    def convert(self, dn: NDArray[np.float32], window: Any) -> NDArray[np.float32]:
        """:func:`sitewatch.fetch.read_window`'s ``convert``: sigma0 of the rasterio ``window`` of the
        measurement whose DN are ``dn``, NaN where there is no data."""
        s = self.sigma0(dn, int(window.row_off), int(window.col_off))
        return np.where(s > 0, s, np.float32(np.nan))

    def describe(self) -> str:
        """What the provenance records: the formula, the LUTs it came from and what was not done."""
        if self.noise is None and not self.noise_missing:
            return (
                f"sigma0 = DN² / A², A bilinear from the product's calibration LUT ({_name(self.calibration_file)} "
                f"sigmaNought); {KEPT_BY_SETTING}; DN 0 as no data"
            )
        if self.noise is None:
            return (
                f"sigma0 = DN² / A², A bilinear from the product's calibration LUT ({_name(self.calibration_file)} "
                f"sigmaNought); thermal noise NOT subtracted: {self.noise_missing}; DN 0 as no data"
            )
        how = ("noiseRangeLut × noiseAzimuthLut (IPF ≥ 2.9)" if self.noise.kind == "range-azimuth"
               else "noiseLut, range only (IPF < 2.9 format)")  # fmt: skip
        return (
            f"sigma0 = (DN² − N) / A², A and N bilinear from the product's calibration and noise LUTs "
            f"({_name(self.calibration_file)} sigmaNought; {_name(self.noise_file)} {how}); DN² − N ≤ 0 "
            f"set to {NOISE_FLOOR_DN2} DN² before dividing by A², as SNAP's ThermalNoiseRemoval does "
            "(a small positive sigma0, not 0, the no-data value); DN 0 as no data"
        )


def _name(path: str) -> str:
    return path.replace("\\", "/").rpartition("/")[2] or path


def _numbers(el: ET.Element | None, tag: str, where: str) -> NDArray[np.float64]:
    if el is None:
        raise ValueError(f"no <{tag}> in {where}")
    try:
        return np.array([float(v) for v in (el.text or "").split()], dtype=np.float64)
    except ValueError:
        raise ValueError(f"<{tag}> in {where} holds something other than numbers") from None


def _child(parent: ET.Element, tag: str) -> ET.Element | None:
    """The first child element ``tag``, whatever namespace the file puts it in."""
    return next((el for el in parent if el.tag.rpartition("}")[2] == tag), None)


def _children(parent: ET.Element, tag: str) -> list[ET.Element]:
    return [el for el in parent.iter() if el.tag.rpartition("}")[2] == tag]


def _vectors(root: ET.Element, vector: str, values: str) -> LineVectors:
    found = _children(root, vector)
    if not found:
        raise ValueError(f"no <{vector}>")
    lines, pixels, luts = [], [], []
    for k, v in enumerate(found):
        where = f"<{vector}> {k + 1}"
        line = _numbers(_child(v, "line"), "line", where)
        if line.size != 1:
            raise ValueError(f"<line> of {where} is not one number")
        lines.append(line[0])
        pixels.append(_numbers(_child(v, "pixel"), "pixel", where))
        luts.append(_numbers(_child(v, values), values, where))
    if not all(np.isfinite(x).all() for x in [np.array(lines), *pixels, *luts]):
        raise ValueError("holds values that are not finite numbers")
    return LineVectors(np.array(lines), tuple(pixels), tuple(luts))


def parse_calibration(xml: bytes, name: str) -> LineVectors:
    """The sigmaNought LUT (A) of a calibration file (``annotation/calibration/calibration-*.xml``).

    Raises :class:`InputError` naming ``name`` when the file is not such a LUT.
    """
    try:
        lut = _vectors(parse_xml(xml, name), "calibrationVector", "sigmaNought")
        if not all(np.all(v > 0) for v in lut.values):
            raise ValueError("holds sigmaNought values that are not positive")
    except (ET.ParseError, ValueError) as exc:  # InputError (entities) is a ValueError too
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{name}: not a readable Sentinel-1 calibration LUT ({exc})") from exc
    return lut


def parse_noise(xml: bytes, name: str) -> NoiseLut:
    """The thermal noise LUT of a noise file (``annotation/calibration/noise-*.xml``), in either format.

    Raises :class:`InputError` naming ``name`` when the file is not such a LUT.
    """
    try:
        root = parse_xml(xml, name)
        if _children(root, "noiseRangeVector"):
            blocks = tuple(_azimuth_block(b, k) for k, b in enumerate(_children(root, "noiseAzimuthVector")))
            return NoiseLut(_vectors(root, "noiseRangeVector", "noiseRangeLut"), blocks,
                            "range-azimuth" if blocks else "range")  # fmt: skip
        if _children(root, "noiseVector"):
            return NoiseLut(_vectors(root, "noiseVector", "noiseLut"))
        raise ValueError("neither <noiseRangeVector> (IPF ≥ 2.9) nor <noiseVector> (IPF < 2.9)")
    except (ET.ParseError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{name}: not a readable Sentinel-1 noise LUT ({exc})") from exc


def _azimuth_block(el: ET.Element, k: int) -> AzimuthBlock:
    where = f"<noiseAzimuthVector> {k + 1}"
    bounds = {}
    for tag in ("firstAzimuthLine", "lastAzimuthLine", "firstRangeSample", "lastRangeSample"):
        v = _numbers(_child(el, tag), tag, where)
        if v.size != 1 or not np.isfinite(v[0]):
            raise ValueError(f"<{tag}> of {where} is not one number")
        bounds[tag] = int(v[0])
    swath = _child(el, "swath")
    lines, values = _numbers(_child(el, "line"), "line", where), _numbers(_child(el, "noiseAzimuthLut"), "noiseAzimuthLut", where)
    if not (np.isfinite(lines).all() and np.isfinite(values).all()):
        raise ValueError(f"{where} holds values that are not finite numbers")
    return AzimuthBlock(
        swath=(swath.text or "").strip() if swath is not None else "",
        first_line=bounds["firstAzimuthLine"], last_line=bounds["lastAzimuthLine"],
        first_sample=bounds["firstRangeSample"], last_sample=bounds["lastRangeSample"],
        lines=lines, values=values,
    )  # fmt: skip
