"""Which satellite took an image, from its tags, its provider's metadata or its file name.

Names follow STAC's ``platform`` (lower case: ``sentinel-2a``, ``landsat-9``,
``worldview-3``), so files and catalogue items read alike in the report.
Only naming schemes the providers document are recognised; anything else is
left unknown rather than guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "platform_from_name", "platform_from_metadata", "platform_of", "platform_sensor", "level_1c_note", "MAXAR_PLATFORMS", "MAXAR_SAT_IDS",
]

# Maxar / DigitalGlobe satellite ids (IMD ``satId``, XML ``SATID``).
_MAXAR = {
    "WV01": "worldview-1",
    "WV02": "worldview-2",
    "WV03": "worldview-3",
    "WV04": "worldview-4",
    "GE01": "geoeye-1",
    "QB02": "quickbird-2",
    "IK02": "ikonos",
}
MAXAR_SAT_IDS: Mapping[str, str] = _MAXAR
"""The platform each Maxar ``satId`` (``WV02``) names (``worldview-2``)."""
MAXAR_PLATFORMS = frozenset(_MAXAR.values())
"""The platforms a Maxar ``satId`` names."""

# File name schemes: ESA product names (S2B_MSIL2A_…, S1A_IW_GRDH_…), USGS Landsat product ids
# (LC09_L2SP_…), EO Browser exports ("…_Sentinel-2_L2A_B03_(Raw).tiff").
_NAME_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![A-Za-z0-9])S2([ABCD])_(?:OPER_(?:[A-Z]{3}_)?)?MSI"), "sentinel-2{}"),
    (re.compile(r"(?<![A-Za-z0-9])S1([ABCD])_(?:IW|EW|SM|WV)_"), "sentinel-1{}"),
    # OLI/TIRS (LC08, LC09, and one instrument's LO08/LT08), ETM+ (LE07), TM (LT04, LT05). MSS (LM01-LM05) is left
    # out: it has no blue band and no Level-2 product, so sitewatch reads none of its files.
    (re.compile(r"(?<![A-Za-z0-9])L(?:[COT](?=0[89])|E(?=07)|T(?=0[45]))0([4-9])_L"), "landsat-{}"),
    # A Sentinel-2 granule's band file since the compact naming of December 2016 (T32TMP_20241017T093005_B08.jp2,
    # L2A's …_B08_10m.jp2): the tile, the datatake's sensing time and the band; it names no unit (2A or 2B).
    (re.compile(r"(?<![A-Za-z0-9])T\d{2}[A-Z]{3}_\d{8}T\d{6}_(?:B0[1-9]|B1[0-2]|B8A|TCI|SCL|AOT|WVP)(?:_[126]0m)?(?![A-Za-z0-9])"),
     "sentinel-2"),
    (re.compile(r"Sentinel-2(?![0-9])", re.I), "sentinel-2"),
    (re.compile(r"Sentinel-1(?![0-9])", re.I), "sentinel-1"),
    # Airbus DIMAP V2 names the satellite (IMG_PHR1A_MS_…, IMG_SPOT6_MS_…, IMG_PNEO3_…: sources/providers.py);
    # Planet's names give a satellite's number, not its type, and are left to the metadata.
    (re.compile(r"^(?:IMG|DIM)_PHR1([AB])_"), "pleiades-1{}"),
    (re.compile(r"^(?:IMG|DIM)_SPOT([67])_"), "spot-{}"),
    (re.compile(r"^(?:IMG|DIM)_PNEO([3-6])_"), "pleiades-neo-{}"),
)


def platform_from_name(name: str) -> str:
    """The platform a file name states in a documented scheme, or ``""``."""
    for pattern, platform in _NAME_RULES:
        if m := pattern.search(name):
            return platform.format(*(g.lower() for g in m.groups()))
    return ""


def platform_from_metadata(path: Path) -> str:
    """The platform a provider's metadata file names: Maxar ``.IMD``/XML, Planet XML/JSON, STAC JSON."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        try:
            meta = json.loads(text)
        except (ValueError, RecursionError):  # ValueError: also a number of more than 4300 digits
            return ""
        props = meta.get("properties", meta) if isinstance(meta, dict) else None
        if not isinstance(props, dict):
            return ""
        if props.get("platform"):  # a STAC item
            return str(props["platform"]).lower()
        # Planet's item JSON (docs.planet.com: provider planetscope or skysat; item_type PSScene, SkySatScene, SkySatCollect)
        provider, item_type = str(props.get("provider", "")).lower(), str(props.get("item_type", "")).lower()
        if provider == "planetscope" or item_type.startswith("psscene"):
            return "planetscope"
        if provider == "skysat" or item_type.startswith("skysat"):
            return "skysat"
        return ""
    if m := re.search(r"\bsatId\s*=\s*\"?([A-Z]{2}\d{2})", text) or re.search(r"<SATID>\s*([A-Z]{2}\d{2})\s*<", text):
        return _MAXAR.get(m.group(1), "")
    if re.search(r"<(?:\w+:)?shortName>\s*PlanetScope\s*<", text, re.I):
        return "planetscope"
    return ""


def platform_of(tags: Mapping[str, str], path: Path, sidecars: Sequence[Path] = ()) -> tuple[str, str]:
    """The platform of an image file and where it was read: its tag, a metadata sidecar, its name."""
    if tags.get("SITEWATCH_PLATFORM"):
        return tags["SITEWATCH_PLATFORM"], "tag SITEWATCH_PLATFORM"
    for sidecar in sidecars:
        if platform := platform_from_metadata(sidecar):
            return platform, f"sidecar {sidecar.name}"
    if platform := platform_from_name(Path(path).name):
        return platform, "file name"
    return "", ""


_SENSOR_OF_PLATFORM: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sentinel-1[a-d]?"), "sar"),
    (re.compile(r"sentinel-2[a-d]?|landsat-\d|pleiades-.*|spot-\d|planetscope|skysat"), "optical"),
    (re.compile("|".join(re.escape(p) for p in sorted(MAXAR_PLATFORMS))), "optical"),
)


def platform_sensor(platform: str) -> str:
    """``sar`` or ``optical`` for a platform :func:`platform_of` names, ``""`` for any other."""
    for pattern, sensor in _SENSOR_OF_PLATFORM:
        if pattern.fullmatch(platform):
            return sensor
    return ""


_LEVEL_1C_NAME = re.compile(r"(?:MSI|(?<![A-Za-z0-9]))L1C(?![A-Za-z0-9])")
"""A Sentinel-2 Level-1C file's name: `S2B_MSIL1C_…`, `S2A_OPER_MSI_L1C_TL_…`, EO Browser's `…_Sentinel-2_L1C_B08_(Raw).tiff`."""


def level_1c_note(path: Path | str) -> str | None:
    """What to say of an optical file whose name says Sentinel-2 Level-1C (top-of-atmosphere), else None.

    A Level-1C product is refused (the optical models were trained on Level-2A); its bands exported one
    file each went in and were detected in as if they were surface reflectance, saying nothing.
    """
    name = Path(str(path)).name
    if _LEVEL_1C_NAME.search(name) is None:
        return None
    return (
        f"{path}: Sentinel-2 Level-1C by its name (top-of-atmosphere reflectance); sitewatch's optical vessel "
        "models were trained on Level-2A (surface reflectance), which is why a Level-1C product is refused: prefer "
        "the L2A export for vessels (`sitewatch change` compares Level-1C pairs as it compares L2A ones)"
    )
