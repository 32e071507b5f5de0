"""Reader for the sen2ships labelled port scenes (../shared/datasets/sen2ships).

Shared by ``optical_sen2ships.py`` (accuracy) and ``optical_train.py`` (the
learned stage). Nothing here is copied into the repo: the files are read in
place and skipped when absent.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
ROOT = DATASETS / "sen2ships" / "sen2ships"
BAND_FILES = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}
# SOURCE.md: EO-Browser 16-bit "Raw" exports look like reflectance x 65535.
DN_SCALE = 65535.0


@dataclass(frozen=True)
class Port:
    """One labelled port scene: bands (reflectance), ground pixel size, labelled ships."""

    name: str
    bands: dict[str, NDArray[np.float32]]
    pixel_size: tuple[float, float]
    masks: list[NDArray[np.bool_]]
    """One boolean mask per labelled ship (full image size)."""
    boxes: NDArray[np.float64]
    """(n, 4) boxes as x0, y0, x1, y1 (exclusive ends), pixels."""


def _decode_rle(counts: list[int], h: int, w: int) -> NDArray[np.bool_]:
    flat = np.zeros(h * w, dtype=bool)
    pos = np.cumsum([0, *counts])
    for i in range(1, len(counts), 2):  # odd runs are foreground
        flat[pos[i] : pos[i + 1]] = True
    return flat.reshape(w, h).T  # column-major as in pycocotools


def port_names() -> list[str]:
    """Ports whose blue/green/red/nir (or green/red/nir) bands are in the folder."""
    if not ROOT.is_dir():
        return []
    out = []
    for d in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        have = {b for b, code in BAND_FILES.items() if list(d.glob(f"*_{code}_(Raw).tiff"))}
        if {"green", "red", "nir"} <= have:
            out.append(d.name)
    return out


def select_ports(requested: list[str] | None = None) -> list[str]:
    """``requested`` (every port when none), checked against :func:`port_names`.

    Exits with a message that names the folder when it holds no port, or names
    the requested ports it does not hold, instead of a traceback from
    :func:`load_port`.
    """
    names = port_names()
    if not names:
        sys.exit(f"sen2ships imagery not found under {ROOT}; nothing to do")
    unknown = [n for n in requested or [] if n not in names]
    if unknown:
        sys.exit(f"no sen2ships port {', '.join(unknown)} under {ROOT} (ports there: {', '.join(names)})")
    return list(requested or names)


def load_port(name: str) -> Port:
    """Read one port's bands (as reflectance) and its labelled ship masks."""
    import rasterio

    from sitewatch.geo import ground_pixel_size

    d = ROOT / name
    bands: dict[str, NDArray[np.float32]] = {}
    pixel_size = (10.0, 10.0)
    for band, code in BAND_FILES.items():
        files = list(d.glob(f"*_{code}_(Raw).tiff"))
        if not files:
            continue
        # The files' GeoTIFF keys carry a non-standard WGS84 definition; the EPSG code is right.
        with rasterio.Env(GTIFF_SRS_SOURCE="EPSG"), rasterio.open(files[0]) as src:
            bands[band] = src.read(1).astype(np.float32) / DN_SCALE
            pixel_size = ground_pixel_size(
                src.crs.to_string(), src.transform, src.width, src.height
            )
    coco = json.loads((ROOT / "coco_annotations.json").read_text())
    image = next(i for i in coco["images"] if i["file_name"] == f"{name}_rgb.tiff")
    h, w = image["height"], image["width"]
    masks, boxes = [], []
    for a in coco["annotations"]:
        if a["image_id"] != image["id"]:
            continue
        masks.append(_decode_rle(a["segmentation"]["counts"], h, w))
        x, y, bw, bh = a["bbox"]
        boxes.append((x, y, x + bw, y + bh))
    return Port(name, bands, pixel_size, masks, np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
