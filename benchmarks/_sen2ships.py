"""Reader for the sen2ships labelled port scenes (../shared/datasets/sen2ships).

Shared by ``optical_sen2ships.py`` (accuracy) and ``optical_train.py`` (the
learned stage). Nothing here is copied into the repo: the files are read in
place and skipped when absent.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402

DATASETS = datasets_root()
ROOT = DATASETS / "sen2ships" / "sen2ships"
"""The folder of port folders; :func:`use_root` points it elsewhere (``--root``, ``--datasets``)."""
BAND_FILES = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}
# SOURCE.md: EO-Browser 16-bit "Raw" exports look like reflectance x 65535.
DN_SCALE = 65535.0


def use_root(root: Path) -> None:
    """Read the ports from ``root`` (a folder of port folders, as ``sen2ships/sen2ships``) from now on."""
    global ROOT
    ROOT = root
    _survey.cache_clear()


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


def band_files(folder: Path) -> dict[str, list[Path]]:
    """The band files of a port folder by band name: GeoTIFFs (``.tif``/``.tiff``, any case) whose name
    holds the band's code as a word (``…_B08_(Raw).tiff``, ``T31_B08.TIF``; not ``B8A``)."""
    out: dict[str, list[Path]] = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() not in (".tif", ".tiff") or not f.is_file():
            continue
        for band, code in BAND_FILES.items():
            if re.search(rf"(?:^|[^A-Za-z0-9]){code}(?:[^A-Za-z0-9]|$)", f.stem, flags=re.I):
                out.setdefault(band, []).append(f)
    return out


@functools.cache
def _survey(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(ports, notes)``: the port folders under ``root`` with green, red and NIR bands (blue
    optional) and labels, and a note for each folder with bands that cannot be scored."""
    if not root.is_dir():
        return (), ()
    ports, notes, bare = [], [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files = band_files(d)
        if not files:
            bare.append(d.name)  # labels only (a withheld port), or bands under names not recognised
            continue
        twice = {b: f for b, f in files.items() if len(f) > 1}
        if twice:
            names = "; ".join(f"{b}: " + ", ".join(x.name for x in f) for b, f in twice.items())
            notes.append(f"{d.name}: more than one file of a band ({names}): keep one")
        elif not {"green", "red", "nir"} <= set(files):
            notes.append(f"{d.name}: bands {', '.join(sorted(files))} only; the detector needs green, red and nir (blue optional)")
        elif (source := _label_source(d.name)) is None:
            notes.append(f"{d.name}: no labels (neither an image {d.name}_rgb.* in {root / 'coco_annotations.json'} nor a *coco*.json in the folder)")
        elif (grids := _grids(files, source)) is not None:
            notes.append(f"{d.name}: {grids}")
        else:
            ports.append(d.name)
    if bare:
        notes.append(f"{', '.join(bare)}: no band files (…_B03_(Raw).tiff, …_B04…, …_B08…; labels only)")
    return tuple(ports), tuple(notes)


def _grids(files: dict[str, list[Path]], source: tuple[Path, dict[str, Any] | None]) -> str | None:
    """Why a port's bands and labels cannot be laid on each other (sizes differ), or None."""
    import rasterio

    sizes = {}
    for band, (f, *_) in files.items():
        with rasterio.open(f) as src:
            sizes[band] = (src.width, src.height)
    if len(set(sizes.values())) > 1:
        return f"its bands are not on one grid ({', '.join(f'{b} {w} x {h}' for b, (w, h) in sizes.items())})"
    path, image = source
    anns = _coco(path)["annotations"]
    mine = [a for a in anns if image is None or a["image_id"] == image["id"]]
    labels = {(w, h) for a in mine if _is_rle(a.get("segmentation")) for h, w in [_rle(a["segmentation"])[1:]]}
    if labels - set(sizes.values()):
        w, h = next(iter(sizes.values()))
        return f"labels in {path.name} drawn on {', '.join(f'{x} x {y}' for x, y in sorted(labels))} pixels, its bands {w} x {h}"
    return None


def port_names() -> list[str]:
    """Ports whose green, red, nir (and blue, where present) bands and labels are in the folder;
    each folder with bands left out is named on standard error, once."""
    ports, notes = _survey(ROOT)
    global _told
    if notes and _told != ROOT:
        _told = ROOT
        for n in notes:
            print(f"note: sen2ships port not scored: {n}", file=sys.stderr)
    return list(ports)


_told: Path | None = None
_told_scale: set[str] = set()


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


def _label_source(name: str) -> tuple[Path, dict[str, Any] | None] | None:
    """Where a port's labels are: ``(combined file, its image)`` when ``coco_annotations.json`` lists
    ``<port>_rgb.*`` (in any case), else ``(the port's own *coco*.json, None)``: every annotation of
    that file is the port's (their ``image_id`` need not be among its ``images``)."""
    combined = ROOT / "coco_annotations.json"
    if combined.is_file():
        coco = _coco(combined)
        image = next((i for i in coco["images"] if Path(i["file_name"]).stem.casefold() == f"{name}_rgb".casefold()), None)
        if image is not None:
            return combined, image
    own = sorted(f for f in (ROOT / name).rglob("*") if f.suffix.lower() == ".json" and "coco" in f.name.lower())
    return (own[0], None) if own else None


@functools.cache
def _coco(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _is_rle(segmentation: Any) -> bool:
    return isinstance(segmentation, dict) or (isinstance(segmentation, str) and segmentation.lstrip().startswith("{"))


def _rle(segmentation: Any) -> tuple[list[int], int, int]:
    """Counts and size of an uncompressed RLE (sen2ships' per-port files may hold it as a dict's text)."""
    seg = ast.literal_eval(segmentation) if isinstance(segmentation, str) else segmentation
    h, w = seg["size"]
    return list(seg["counts"]), int(h), int(w)


def load_port(name: str) -> Port:
    """Read one port's bands (as reflectance) and its labelled ship masks."""
    import rasterio

    from sitewatch.detect.optical_reflectance import infer_dn_scale
    from sitewatch.geo import ground_pixel_size
    from sitewatch.zero_collar import all_bands_zero, zero_is_no_data_in

    d = ROOT / name
    bands: dict[str, NDArray[np.float32]] = {}
    pixel_size = (10.0, 10.0)
    files = {band: f[0] for band, f in band_files(d).items()}
    raw = {}
    for band, f in files.items():
        # The files' GeoTIFF keys carry a non-standard WGS84 definition; the EPSG code is right.
        with rasterio.Env(GTIFF_SRS_SOURCE="EPSG"), rasterio.open(f) as src:
            raw[band] = src.read(1)
            bands[band] = raw[band].astype(np.float32) / DN_SCALE
            pixel_size = ground_pixel_size(
                src.crs.to_string(), src.transform, src.width, src.height
            )
    inferred = infer_dn_scale(list(raw.values()))
    if inferred != DN_SCALE and name not in _told_scale:
        # Read here as x 65535 (SOURCE.md); detect-image without --dn-scale would not: its figures would differ.
        _told_scale.add(name)
        print(f"note: sen2ships port {name}: detect-image would read its values / {inferred} (they do not fill the "
              f"16-bit range); give it --dn-scale {DN_SCALE:g} to match this benchmark", file=sys.stderr)  # fmt: skip
    if len({a.shape for a in raw.values()}) == 1 and zero_is_no_data_in([(f, 1) for f in files.values()]):
        # As detect-image reads these 16-bit files, which declare no no-data value: a pixel at DN 0 in
        # every band is no data (one in athens), and so nothing is reported within 100 m of it.
        empty = all_bands_zero(raw.values())
        for v in bands.values():
            v[empty] = np.nan
    shapes = {b.shape for b in bands.values()}
    if len(shapes) != 1:
        sys.exit(f"sen2ships port {name}: its bands are not on one grid ({', '.join(f'{k} {v.shape}' for k, v in bands.items())})")
    source = _label_source(name)
    if source is None:
        sys.exit(f"sen2ships port {name}: no labels (coco_annotations.json or a *coco*.json in {d})")
    path, image = source
    coco = _coco(path)
    anns = coco["annotations"] if image is None else [a for a in coco["annotations"] if a["image_id"] == image["id"]]
    masks, boxes = [], []
    shape = next(iter(shapes))
    for a in anns:
        x, y, bw, bh = a["bbox"]
        if _is_rle(a.get("segmentation")):
            counts, h, w = _rle(a["segmentation"])
            if (h, w) != shape:
                # Labels drawn on another grid (qingdao's raw bands) would be scored at the wrong pixels.
                sys.exit(f"sen2ships port {name}: labels in {path.name} are {w} x {h} pixels, its bands {shape[1]} x {shape[0]}")
            masks.append(_decode_rle(counts, h, w))
        else:
            # No RLE (a polygon or a bbox alone): the box stands for the mask in the length error.
            mask = np.zeros(shape, bool)
            mask[int(y) : int(np.ceil(y + bh)), int(x) : int(np.ceil(x + bw))] = True
            masks.append(mask)
        boxes.append((x, y, x + bw, y + bh))
    return Port(name, bands, pixel_size, masks, np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
