"""Maxar (DigitalGlobe) deliveries turned into top-of-atmosphere reflectance by their own ``.IMD`` (or ``.XML``).

A Maxar multispectral product holds radiometrically corrected counts (11-bit values in 16-bit files), not
reflectance × 10,000: read by their range (divided by 10,000), harbour water came out several times darker
than it is. The ``.IMD`` delivered beside the file gives each band (``BEGIN_GROUP = BAND_B`` …) its
``absCalFactor`` (W·m⁻²·sr⁻¹ per count) and ``effectiveBandwidth`` (µm), and the image group its
``meanSunEl`` (degrees) and ``satId``; the ``.XML`` gives the same as ``ABSCALFACTOR``, ``EFFECTIVEBANDWIDTH``,
``MEANSUNEL`` and ``SATID``. DigitalGlobe's technical note "Radiometric Use of WorldView-2 Imagery" (T. Updike
and C. Comp, 2010; the same steps in its QuickBird, GeoEye-1 and WorldView-3 notes) turns them into

- top-of-atmosphere spectral radiance, L = absCalFactor × DN / effectiveBandwidth (W·m⁻²·sr⁻¹·µm⁻¹), and
- top-of-atmosphere reflectance, ρ = L × d² × π / (Esun × cos θs), with θs = 90° − meanSunEl the solar zenith
  angle, d the Earth–Sun distance in astronomical units at the acquisition (the note's formula, from the
  Astronomical Almanac: d = 1.00014 − 0.01671 cos g − 0.00014 cos 2g, g = 357.529° + 0.98560028° × (JD −
  2451545.0)), and Esun the band's solar spectral irradiance (:data:`ESUN`).

So each band's reflectance is its DN times one factor, as a Planet radiance file's is
(:mod:`sitewatch.sources.planet_toa`). Maxar's later "Absolute Radiometric Calibration" note (2016v0, released
2017-06-06) also gives per-band GAIN and OFFSET adjustments to the ``absCalFactor`` radiance, a few per cent;
they are not applied here, and the provenance says so. TOA reflectance keeps the atmosphere's haze, which the
surface reflectance the detector was trained on has taken out: it is reflectance, far nearer than counts / 10,000.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from ..errors import InputError
from ..files import is_file
from ..platforms import MAXAR_SAT_IDS
from ..untrusted import parse_xml
from .providers import MAXAR_BAND_NAMES, ProviderProduct, maxar_product_path

__all__ = ["ESUN", "MAXAR_TOA_NOTE", "MaxarTOA", "earth_sun_distance_au", "maxar_calibration_file", "maxar_toa"]

MAXAR_TOA_NOTE = (
    "TOA from the .IMD: absCalFactor x DN / effectiveBandwidth x d^2 x pi / (Esun x cos(90 - meanSunEl)) "
    "(DigitalGlobe, Radiometric Use of WorldView-2 Imagery, 2010); Esun Thuillier 2003 (Maxar, Absolute "
    "Radiometric Calibration 2016v0); the 2016v0 GAIN and OFFSET adjustments not applied"
)
"""What a converted file's provenance says of its reflectance (``maxar``: ``reflectance``)."""

# Band-averaged solar spectral irradiance, W·m⁻²·µm⁻¹, Thuillier 2003 spectrum, as Maxar publishes it for each
# satellite in "Absolute Radiometric Calibration: 2016v0" (DigitalGlobe, ABSRADCAL_FLEET_2016v0, released
# 2017-06-06), the table of ESUN values, the ones Maxar recommends with its current calibration. Satellites
# the note gives none for (WorldView-4, WorldView Legion) are read as before, with a warning.
ESUN: dict[str, dict[str, float]] = {
    "worldview-1": {"pan": 1478.62},
    "worldview-2": {
        "pan": 1571.36, "coastal": 1773.81, "blue": 2007.27, "green": 1829.62, "yellow": 1701.85,
        "red": 1538.85, "rededge": 1346.09, "nir": 1053.21, "nir2": 856.599,
    },
    "worldview-3": {
        "pan": 1574.41, "coastal": 1757.89, "blue": 2004.61, "green": 1830.18, "yellow": 1712.07,
        "red": 1535.33, "rededge": 1348.08, "nir": 1055.94, "nir2": 858.77,
    },
    "geoeye-1": {"pan": 1610.73, "blue": 1993.18, "green": 1828.83, "red": 1491.49, "nir": 1022.58},
    "quickbird-2": {"pan": 1370.92, "blue": 1949.59, "green": 1823.64, "red": 1553.78, "nir": 1102.85},
    "ikonos": {"pan": 1353.25, "blue": 1921.26, "green": 1803.28, "red": 1517.76, "nir": 1145.8},
}  # fmt: skip


@dataclass(frozen=True)
class MaxarTOA:
    """A Maxar file's per-band reflectance factors, from its ``.IMD`` (or ``.XML``) and :data:`ESUN`."""

    metadata: Path
    """The ``.IMD`` or ``.XML`` they were read from."""
    platform: str
    bands: tuple[str, ...]
    """The file's bands, in file order (sitewatch's names: ``blue``, ``nir``, ``nir2`` …)."""
    abs_cal_factors: tuple[float, ...]
    effective_bandwidths: tuple[float, ...]
    esun: tuple[float, ...]
    sun_elevation_deg: float
    earth_sun_au: float
    note: str = MAXAR_TOA_NOTE

    def __post_init__(self) -> None:
        n = len(self.bands)
        if not n or not all(len(t) == n for t in (self.abs_cal_factors, self.effective_bandwidths, self.esun)):
            raise InputError(f"{self.metadata}: a calibration for each of {n} bands is needed")
        if not all(v > 0 and math.isfinite(v) for v in (*self.abs_cal_factors, *self.effective_bandwidths)):
            raise InputError(f"{self.metadata}: absCalFactor and effectiveBandwidth must each be a positive number")
        if not 0.0 < self.sun_elevation_deg <= 90.0:
            raise InputError(f"{self.metadata}: meanSunEl {self.sun_elevation_deg} is not a sun above the horizon (0-90 degrees)")
        if not 0.98 < self.earth_sun_au < 1.02:
            raise InputError(f"Earth-Sun distance {self.earth_sun_au} AU is not the Earth's (0.983-1.017)")

    @property
    def coefficients(self) -> tuple[float, ...]:
        """TOA reflectance per DN, band 1 first."""
        cos_zenith = math.sin(math.radians(self.sun_elevation_deg))  # cos(90° - elevation)
        return tuple(
            k / bw * self.earth_sun_au**2 * math.pi / (e * cos_zenith)
            for k, bw, e in zip(self.abs_cal_factors, self.effective_bandwidths, self.esun, strict=True)
        )

    def provenance(self, bands: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
        """What the provenance records of the conversion: the formula, the file and every figure it used."""
        del bands  # the file's own band names are kept
        return {
            "reflectance": self.note,
            "metadata": str(self.metadata.resolve()),
            "platform": self.platform,
            "abs_cal_factor": dict(zip(self.bands, self.abs_cal_factors, strict=True)),
            "effective_bandwidth_um": dict(zip(self.bands, self.effective_bandwidths, strict=True)),
            "esun": dict(zip(self.bands, self.esun, strict=True)),
            "mean_sun_elevation_deg": self.sun_elevation_deg,
            "earth_sun_distance_au": round(self.earth_sun_au, 6),
            "reflectance_coefficients": dict(zip(self.bands, self.coefficients, strict=True)),
        }


def earth_sun_distance_au(when: datetime) -> float:
    """The Earth–Sun distance in astronomical units at ``when`` (aware), as DigitalGlobe's notes compute it."""
    jd = when.astimezone(UTC).timestamp() / 86400.0 + 2440587.5  # the Unix epoch is JD 2440587.5
    g = math.radians(357.529 + 0.98560028 * (jd - 2451545.0))
    return 1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g)


def maxar_calibration_file(path: Path) -> Path | None:
    """The ``.IMD`` (else the ``.XML``) delivered with a Maxar file or with the product a tile of it belongs to."""
    if str(path).startswith("/vsi"):
        return None
    for suffixes in ((".IMD", ".imd"), (".XML", ".xml")):
        for base in (path, maxar_product_path(path)):
            for suffix in suffixes:
                if base is not None and is_file(candidate := base.with_suffix(suffix)):
                    return candidate
    return None


_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


Calibration = tuple[list[tuple[str, float | None, float | None]], str, float | None, datetime | None]
"""(band group, absCalFactor, effectiveBandwidth) in file order, satId, meanSunEl and the first line's time."""


def _first_time(texts: list[str]) -> datetime | None:
    """The earliest of ``texts`` that reads as an ISO 8601 time (``2024-11-02T02:11:07.512345Z``), as a UTC time."""
    times = []
    for text in texts:
        try:
            when = datetime.fromisoformat(text.strip().strip('"'))
        except ValueError:
            continue
        times.append(when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC))
    return min(times, default=None)


def _read_imd(text: str) -> Calibration:
    """The calibration figures of an ``.IMD``'s text (:data:`Calibration`)."""
    bands = []
    for m in re.finditer(r"BEGIN_GROUP\s*=\s*BAND_([A-Z0-9]+)\s*(.*?)END_GROUP\s*=\s*BAND_\1", text, re.S):
        body = m.group(2)
        k = re.search(rf"\babsCalFactor\s*=\s*{_NUMBER}", body)
        bw = re.search(rf"\beffectiveBandwidth\s*=\s*{_NUMBER}", body)
        bands.append((m.group(1), float(k.group(1)) if k else None, float(bw.group(1)) if bw else None))
    sat = re.search(r"\bsatId\s*=\s*\"?([A-Z]{2}\d{2})", text)
    el = re.search(rf"\bmeanSunEl\s*=\s*{_NUMBER}", text)
    when = _first_time(re.findall(r"\b(?:firstLineTime|earliestAcqTime)\s*=\s*([^;\s]+)", text))
    return bands, sat.group(1) if sat else "", float(el.group(1)) if el else None, when


def _read_xml(data: bytes, name: str) -> Calibration:
    """The same from a Maxar ``.XML`` (``<IMD><BAND_B><ABSCALFACTOR>`` …, ``<IMAGE><SATID>``, ``<MEANSUNEL>``)."""
    root = parse_xml(data, name)

    def number(el: ET.Element | None, tag: str) -> float | None:
        text = None if el is None else el.findtext(tag)
        try:
            return float(text) if text is not None else None
        except ValueError:
            return None

    imd = root.find(".//IMD")
    bands = []
    for el in (list(imd) if imd is not None else []):
        if el.tag.startswith("BAND_"):
            bands.append((el.tag[5:], number(el, "ABSCALFACTOR"), number(el, "EFFECTIVEBANDWIDTH")))
    image = root.find(".//IMD/IMAGE")
    sat = (image.findtext("SATID") if image is not None else None) or ""
    when = _first_time([el.text or "" for el in root.iter() if el.tag in ("FIRSTLINETIME", "EARLIESTACQTIME")])
    return bands, sat.strip(), number(image, "MEANSUNEL"), when


def maxar_toa(
    path: Path | str, product: ProviderProduct | None, count: int, acquired: datetime | None = None
) -> MaxarTOA | str | None:
    """How a Maxar multispectral file of counts (integers wider than 8 bits) becomes reflectance: a
    :class:`MaxarTOA` by its ``.IMD`` (or ``.XML``); None for any other file; else why it cannot be (a text naming the file and what is missing), for the caller
    to warn with while reading it as before (by its values' range). ``acquired`` (the Earth–Sun distance's
    time; default: the metadata's ``firstLineTime`` or ``earliestAcqTime``) is the scene's as ingest read it.

    An ``.IMD`` that lists other bands than the file has, or a figure that is not a number, is an
    :class:`InputError` naming it (not the file it describes).
    """
    if product is None or product.provider != "Maxar" or product.panchromatic or product.bands is None:
        return None
    path = Path(str(path))
    try:
        with rasterio.open(path) as src:
            dtype = src.dtypes[0]
    except RasterioError:
        return None  # named by the reader
    if dtype not in ("uint16", "int16", "uint32", "int32"):
        return None  # 8-bit: a rendering (DRA), not counts; floats: made into values by someone already
    before = "read by its values' range as before (counts / 10,000: darker than its true reflectance)"
    sidecar = maxar_calibration_file(path)
    if sidecar is None:
        return (f"{path}: a Maxar file without the .IMD (or .XML) delivered with it, whose absCalFactor, "
                f"effectiveBandwidth and meanSunEl make its counts reflectance: {before}; put the .IMD beside it")
    try:
        data = sidecar.read_bytes()
    except OSError as exc:
        raise InputError(f"{sidecar}: cannot be read ({exc.strerror or exc})") from exc
    try:
        bands, sat, sun_el, when = (_read_xml(data, str(sidecar)) if sidecar.suffix.lower() == ".xml"
                              else _read_imd(data.decode("utf-8", errors="replace")))  # fmt: skip
    except ET.ParseError as exc:
        raise InputError(f"{sidecar}: not a readable Maxar XML ({exc})") from exc
    names = tuple(MAXAR_BAND_NAMES.get(b, b.lower()) for b, _, _ in bands)
    missing = [b for b, k, bw in bands if k is None or bw is None]
    acquired = acquired or when
    if not bands or missing or sun_el is None or acquired is None:
        what = ("no band" if not bands else f"no absCalFactor or effectiveBandwidth for BAND_{', BAND_'.join(missing)}"
                if missing else "no meanSunEl" if sun_el is None else "no firstLineTime or earliestAcqTime")  # fmt: skip
        return f"{path}: its {sidecar.name} gives {what}: {before}"
    if len(bands) != count:
        raise InputError(f"{sidecar}: lists {len(bands)} bands and {path.name} has {count}: not that file's metadata")
    platform = MAXAR_SAT_IDS.get(sat, "")
    table = ESUN.get(platform)
    if table is None or any(n not in table for n in names):
        return (f"{path}: no published solar irradiance (Esun) for {platform or sat or 'an unnamed satellite'}'s "
                f"bands in sitewatch's table (Maxar's Absolute Radiometric Calibration 2016v0): {before}")
    return MaxarTOA(
        sidecar, platform, names, tuple(float(k) for _, k, _ in bands if k is not None),
        tuple(float(bw) for _, _, bw in bands if bw is not None), tuple(table[n] for n in names),
        sun_el, earth_sun_distance_au(acquired),
    )  # fmt: skip
