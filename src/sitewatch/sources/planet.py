"""Planet deliveries: the usable data mask (UDM2) beside a PlanetScope scene.

A PSScene order delivers, for each scene, the image (``…_3B_AnalyticMS_SR_clip.tif``,
``…_AnalyticMS_SR_8b_clip.tif``, ``…_AnalyticMS_SR.tif`` unclipped), its metadata
(``…_metadata.json``) and its UDM2 (``…_3B_udm2_clip.tif``, ``…_3B_udm2.tif``), every name
beginning with the scene id (``20241017_012345_22_2470``, ``20180905_101500_1034`` for the
first Doves, or ``20151027_145652_1_0b0d`` with a one-digit counter, Planet's own example). The UDM2 is read in SCL's classes (:func:`sitewatch.detect.clouds.udm2_to_scl`),
so that ingest and detect-image use it as they use a Sentinel-2 SCL.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..detect.clouds import UDM2_BANDS, udm2_to_scl
from ..errors import ImageReadError, InputError

__all__ = [
    "planet_scene_id", "is_udm2", "is_udm", "planet_mask_refusal", "udm2_sibling", "check_udm2", "read_udm2_as_scl",
    "udm2_apart",
]  # fmt: skip

_SCENE_ID = re.compile(r"^(\d{8}_\d{6}(?:_\d{1,2})?_[0-9a-fA-F]{4})_")
"""A PlanetScope scene id at the start of a file name: date_time[_sub]_satellite."""
_UDM2 = re.compile(r"_udm2(?:_|\.|$)", re.I)
_UDM = re.compile(r"_udm(?:_|\.|$)", re.I)
"""The original usable data mask (``…_3B_AnalyticMS_DN_udm_clip.tif``, ``…_BGRN_DN_udm.tif``): one band of bit flags."""
_MASK_PART = re.compile(r"(?:_(?:3B|BGRN|AnalyticMS|Analytic))*(?:_DN)?_udm2?(?:_.*)?$", re.I)
"""What follows the scene (or ortho tile) in a mask's name: the rest names its image."""


def planet_scene_id(name: str) -> str | None:
    """The PlanetScope scene id a file name begins with (``20241017_012345_22_2470``,
    ``20180905_101500_1034``, ``20151027_145652_1_0b0d``), or None."""
    m = _SCENE_ID.match(name)
    return m.group(1) if m else None


def is_udm2(path: Path | str) -> bool:
    """Whether a file is a Planet UDM2 by its name (``…_udm2_clip.tif``, ``…_udm2.tif``)."""
    name = Path(str(path)).name
    return Path(name).suffix.lower() in (".tif", ".tiff") and bool(_UDM2.search(Path(name).stem + "."))


def is_udm(path: Path | str) -> bool:
    """Whether a file is Planet's original usable data mask (UDM, not UDM2) by its name."""
    name = Path(str(path)).name
    return Path(name).suffix.lower() in (".tif", ".tiff") and bool(_UDM.search(Path(name).stem + "."))


def planet_mask_refusal(path: Path | str) -> str | None:
    """Why a Planet mask (UDM2 or the original UDM) named as an image is not one, naming the
    scene's image beside it when there is one; None for any other file."""
    path = Path(str(path))
    if not (is_udm2(path) or is_udm(path)):
        return None
    images = [] if str(path).startswith("/vsi") or not path.parent.is_dir() else _images_of_mask(path, path.parent.iterdir())
    image = images[0].name if images else "…_AnalyticMS_SR_clip.tif"
    if is_udm2(path):
        return f"{path}: a Planet usable data mask (UDM2), not an image; it is read with its scene's image ({image} beside it): give that"
    return (
        f"{path}: a Planet usable data mask of the original kind (UDM), not an image; give the scene's image ({image}): "
        "its UDM2 beside it, if delivered, is its cloud mask (the original UDM is not read: its cloud test takes snow "
        "for cloud and misses small clouds), else the spectral cloud test"
    )


def _images_of_mask(mask: Path, files: Iterable[Path]) -> list[Path]:
    """The images among ``files`` in the mask's folder whose name begins with the mask's scene or tile."""
    stem = _MASK_PART.sub("", Path(mask.name).stem)
    return sorted(
        f for f in files
        if f.parent == mask.parent and f.name.startswith(f"{stem}_") and f.suffix.lower() in (".tif", ".tiff")
        and not is_udm2(f) and not is_udm(f) and f.is_file()
    )  # fmt: skip


def udm2_sibling(path: Path | str) -> Path | None:
    """The UDM2 delivered beside a Planet image: same folder, same scene id, ``_udm2`` in the name.

    A clipped image (``_clip``) takes the clipped UDM2 when both are there. None when the file is
    not named as a Planet scene, is itself a UDM2, or has none beside it. An image given as a symlink with
    none beside the link takes the one beside the file it leads to (the delivery's folder on its disk).
    """
    found = _udm2_beside(Path(str(path)))
    if found is None and not str(path).startswith("/vsi") and Path(str(path)).is_symlink():
        found = _udm2_beside(Path(os.path.realpath(path)))
    return found


def _udm2_beside(path: Path) -> Path | None:
    m = _SCENE_ID.match(path.name)
    if is_udm2(path) or str(path).startswith("/vsi") or not path.parent.is_dir():
        return None
    if m is None:
        return _udm2_by_name(path)
    found = sorted(
        q for q in path.parent.glob(f"{m.group(1)}_*")
        if q.is_file() and q != path and is_udm2(q) and not q.name.startswith(".")
    )  # fmt: skip
    clipped = "_clip" in path.stem.lower()
    same_cut = [q for q in found if ("_clip" in q.stem.lower()) == clipped]
    chosen = same_cut or found
    return chosen[0] if chosen else None


def _udm2_by_name(path: Path) -> Path | None:
    """The UDM2 of an image not named by a PlanetScope scene id (a SkySat product, a scene the user renamed with
    its mask): its name less ``_udm2`` is the image's, less ``_clip`` and ``_sr``/``_dn``
    (``…_ssc6_u0001_pansharpened_udm2_clip.tif`` for ``…_ssc6_u0001_pansharpened_clip.tif``,
    ``dunai_2024-10-17_udm2.tif`` for ``dunai_2024-10-17.tif``)."""
    def key(name: str) -> str:
        stem = re.sub(r"_udm2(?=_|$)", "", Path(name).stem, flags=re.I)
        return re.sub(r"_(?:clip|sr|dn)(?=_|$)", "", stem, flags=re.I).lower()

    want = key(path.name)
    found = sorted(q for q in path.parent.glob("*[uU][dD][mM]2*") if is_udm2(q) and q.is_file() and key(q.name) == want)
    clipped = [q for q in found if ("_clip" in q.stem.lower()) == ("_clip" in path.stem.lower())]
    chosen = clipped or found
    return chosen[0] if chosen else None


def _open(path: Path | str) -> Any:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioError as exc:
        raise ImageReadError(f"{path}: the UDM2 is not a readable raster ({exc})") from exc


def check_udm2(udm2: Path | str, image: Path | str) -> None:
    """Refuse a UDM2 that is not one for ``image``: not 8 bands, or not on the image's grid
    (CRS, transform and size), naming the UDM2 file."""
    with _open(udm2) as m, _open(image) as im:
        if m.count != len(UDM2_BANDS):
            raise InputError(
                f"{udm2}: {m.count} band(s), and a Planet UDM2 has {len(UDM2_BANDS)} ({', '.join(UDM2_BANDS)}); "
                "give the scene's ortho_udm2 asset, or move this file away from the image"
            )
        same = (m.width, m.height) == (im.width, im.height) and m.crs == im.crs and m.transform.almost_equals(
            im.transform, precision=0.01 * min(abs(im.transform.a), abs(im.transform.e)) or 1e-9
        )
        if not same:
            raise InputError(
                f"{udm2}: not on the grid of {image} ({m.width} x {m.height} pixels at {m.crs} {tuple(m.transform)[:6]}, "
                f"against {im.width} x {im.height} at {im.crs} {tuple(im.transform)[:6]}); a UDM2 is read pixel for pixel "
                "with its image: give the one delivered with it (a clipped image takes the clipped UDM2)"
            )


def read_udm2_as_scl(
    udm2: Path | str, window: Any = None, out_shape: tuple[int, int] | None = None
) -> NDArray[np.uint8]:
    """A UDM2's window (a rasterio ``Window``, or the whole file; ``out_shape`` decimates it by
    nearest neighbour) in SCL's classes (:func:`~sitewatch.detect.clouds.udm2_to_scl`)."""
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioError

    with _open(udm2) as m:
        if m.count != len(UDM2_BANDS):
            raise InputError(f"{udm2}: {m.count} band(s), and a Planet UDM2 has {len(UDM2_BANDS)} ({', '.join(UDM2_BANDS)})")
        try:
            shape = None if out_shape is None else (m.count, *out_shape)
            data = m.read(window=window, out_shape=shape, resampling=Resampling.nearest)
        except RasterioError as exc:
            raise ImageReadError(f"{udm2}: could not read the UDM2 ({exc})") from exc
    return udm2_to_scl(data)


def udm2_apart(files: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``files`` without the Planet masks among them, and (file, reason) for each mask whose image
    is not among them: a mask is read with its image (a UDM2) or not at all (the original UDM),
    never ingested as an image of its own."""
    images = [f for f in files if not is_udm2(f) and not is_udm(f)]
    # A folder is listed once for whether it holds a UDM2 at all: looking for each image's sibling lists its
    # folder, so a folder that keeps every download (a daily import) cost the square of its files each run.
    holds: dict[Path, bool] = {}
    paired = {
        s.resolve() for f in images
        if (f.is_symlink() or _holds_udm2(f.parent, holds)) and (s := udm2_sibling(f)) is not None
    }  # fmt: skip
    alone = [
        (f, _elsewhere(f, images) or planet_mask_refusal(f) or "")
        for f in files
        if (is_udm2(f) and f.resolve() not in paired) or (is_udm(f) and not _images_of_mask(f, images))
    ]  # fmt: skip
    named: dict[Path, tuple[Path, str]] = {}
    for f, why in alone:
        named.setdefault(f.resolve(), (f, why))  # a mask given twice (its folder and itself) is named once
    return images, list(named.values())


def _holds_udm2(folder: Path, seen: dict[Path, bool]) -> bool:
    """Whether ``folder`` holds a file named as a UDM2 (:func:`is_udm2`), listed once a run (``seen``); True when
    it cannot be listed, so that :func:`udm2_sibling` is asked as before."""
    if folder not in seen:
        try:
            with os.scandir(folder) as entries:
                seen[folder] = any(is_udm2(e.name) for e in entries)
        except OSError:
            seen[folder] = True
    return seen[folder]


def _elsewhere(udm2: Path, images: Sequence[Path]) -> str | None:
    """Why a UDM2 whose scene's image was given from another folder is not read with it, or None."""
    scene = planet_scene_id(udm2.name)
    if not is_udm2(udm2) or scene is None:
        return None
    clipped = "_clip" in udm2.stem.lower()
    others = [f for f in images if planet_scene_id(f.name) == scene and ("_clip" in f.stem.lower()) == clipped]
    if not others:
        return None
    return (
        f"{udm2}: a Planet usable data mask (UDM2) of {others[0]}, which went in without it: a UDM2 is read from "
        f"beside its image only; move it beside {others[0].name} and give them again"
    )
