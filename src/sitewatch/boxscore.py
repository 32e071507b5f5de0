"""Score ``detect-image`` output against labelled boxes, so anyone can measure the detector on
imagery sitewatch never saw.

The rule is the one the benchmarks use (``benchmarks/sar_real.py``, ``optical_sen2ships.py``):
one-to-one matching per image, a detection counts when its centroid falls inside a labelled
box, detections taken best score first, each matched to the free box whose centre is nearest.

Labels come as the datasets publish them:

- **Pascal VOC XML** (one file per image, ``<object><bndbox>``; SAR-Ship-Dataset, SSDD):
  ``xmin..xmax`` are taken as the image's pixel indices, inclusive, so the box spans
  ``xmin - 0.5 .. xmax + 0.5`` in the pixel-centre coordinates of ``row``/``col``. (Sources
  that count from 1 put their boxes one pixel off; a centroid seldom depends on it.)
- **COCO JSON** (one file for many images, ``bbox = [x, y, w, h]`` in pixel-edge
  coordinates): ``x - 0.5 .. x + w - 0.5``. An image is found by its ``file_name`` stem.
- **GeoJSON** polygons (or boxes) in the detections' own coordinates: each feature's bounding
  box, compared with the centroid of each detection's box geometry. The two files must be in
  the same CRS (compared as CRSs, however the ``crs`` member spells it; labels without one are
  WGS84, or pixel coordinates when the detections are in pixels).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .untrusted import parse_xml

__all__ = [
    "Box", "Counts", "Detected", "match_boxes", "pair_files", "read_detections", "read_labels", "score_files",
    "image_name", "unscored_labels",
]  # fmt: skip

LABEL_SUFFIXES = (".xml", ".json", ".geojson")


@dataclass(frozen=True)
class Box:
    """A labelled box, ``x0 <= x <= x1`` and ``y0 <= y <= y1`` in the coordinates compared."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        if not (self.x0 <= self.x1 and self.y0 <= self.y1):
            raise InputError(f"a labelled box has its corners the wrong way round: {self}")

    def holds(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1


@dataclass(frozen=True)
class Detected:
    """One detection as scored: its centroid in the coordinates compared, and its score."""

    x: float
    y: float
    score: float


@dataclass
class Counts:
    """True positives, false positives and misses, summed over images."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    images: int = 0
    per_image: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def add(self, name: str, t: tuple[int, int, int]) -> None:
        self.tp, self.fp, self.fn, self.images = self.tp + t[0], self.fp + t[1], self.fn + t[2], self.images + 1
        self.per_image[name] = t

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        n = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / n if n else None


def match_boxes(dets: Sequence[Detected], boxes: Sequence[Box]) -> tuple[int, int, int]:
    """``(tp, fp, fn)``: best score first, each detection to the free box holding its centroid
    whose centre is nearest."""
    used = [False] * len(boxes)
    tp = 0
    for d in sorted(dets, key=lambda d: -d.score):
        best, bestd = -1, math.inf
        for i, b in enumerate(boxes):
            if used[i] or not b.holds(d.x, d.y):
                continue
            dist = (d.x - (b.x0 + b.x1) / 2) ** 2 + (d.y - (b.y0 + b.y1) / 2) ** 2
            if dist < bestd:
                best, bestd = i, dist
        if best >= 0:
            used[best] = True
            tp += 1
    return tp, len(dets) - tp, len(boxes) - tp


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from exc
    except RecursionError as exc:  # "[[[[…" a hundred thousand deep: Python's parser recurses
        raise InputError(f"{path}: its JSON is nested too deeply to read") from exc


def _json_or_none(path: Path) -> Any:
    try:
        return _json(path)
    except InputError:
        return None


def _crs_name(fc: dict[str, Any]) -> str | None:
    crs = fc.get("crs")
    return str(crs.get("properties", {}).get("name")) if isinstance(crs, dict) else None


def _same_crs(label_crs: str | None, det_crs: str | None) -> bool:
    """Whether two GeoJSON ``crs`` members name one CRS (None: WGS84 lon/lat, as RFC 7946 has it).

    Spellings differ between writers (``EPSG:32633`` from detect-image, the OGC URN from GDAL and
    QGIS), so they are compared as CRSs; labels drawn over an image without a georeference carry
    no ``crs`` at all, and go with detect-image's pixel coordinates.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if label_crs == det_crs:
        return True
    if label_crs is None and det_crs is not None and det_crs.startswith('LOCAL_CS["pixel"'):
        return True
    try:
        a, b = (CRS.from_user_input(c or "OGC:CRS84") for c in (label_crs, det_crs))
    except CRSError:
        return False
    return bool(a.equals(b, ignore_axis_order=True))


def _detections_json(path: Path) -> dict[str, Any]:
    try:
        empty = path.stat().st_size < 4096 and not path.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"{path}: not readable ({exc})") from exc
    if empty:
        raise InputError(f"{path}: an empty file, not a `sitewatch detect-image --out` file (run detect-image again)")
    fc = _json(path)
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
        raise InputError(f"{path}: not a GeoJSON FeatureCollection (a `sitewatch detect-image --out` file)")
    if not _is_detect_image_output(fc):
        # Scored as it stands, hand-drawn boxes or an empty collection would count as detections.
        raise InputError(
            f"{path}: not a `sitewatch detect-image --out` file (no `sitewatch` member naming the "
            "detector); DETECTIONS holds only those"
        )
    return fc


def read_detections(
    path: Path, kinds: Iterable[str] = ("vessel",), min_score: float = 0.0, fc: dict[str, Any] | None = None
) -> tuple[list[Detected], list[Detected], str | None]:
    """A ``detect-image`` GeoJSON's detections of ``kinds`` scoring at least ``min_score``:
    ``(by pixel (col, row), by geometry centroid, crs member)``; ``fc``: the file already read."""
    from shapely.geometry import shape

    fc = _detections_json(path) if fc is None else fc
    wanted = set(kinds)
    pixel, geo = [], []
    for i, f in enumerate(fc.get("features", [])):
        if not isinstance(f, dict):
            raise InputError(f"{path}: feature {i} is not a GeoJSON Feature")
        p = f.get("properties") or {}
        try:
            if p.get("kind", "vessel") not in wanted or float(p.get("score", 1.0)) < min_score:
                continue
            score = float(p.get("score", 1.0))
            pixel.append(Detected(float(p["col"]), float(p["row"]), score))
            c = shape(f["geometry"]).centroid
            geo.append(Detected(float(c.x), float(c.y), score))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: feature {i} lacks what detect-image writes (row, col, geometry): {exc}") from exc
    return pixel, geo, _crs_name(fc)


def _voc(path: Path, classes: set[str], seen: set[str]) -> list[Box]:
    try:
        root = parse_xml(path.read_bytes(), str(path))
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{path}: not readable XML ({exc})") from exc
    boxes = []
    for i, obj in enumerate(root.iter("object")):
        name = (obj.findtext("name") or "").strip()
        seen.add(name)
        bb = obj.find("bndbox")
        if bb is None:
            raise InputError(
                f"{path}: object {i} ({name!r}) has no <bndbox>; only axis-aligned boxes are read "
                "(rotated ones such as <robndbox> are not)"
            )
        if classes and name not in classes:
            continue
        try:
            x0, y0, x1, y1 = (float(bb.findtext(k) or "") for k in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError as exc:
            raise InputError(f"{path}: an object's bndbox is not four numbers ({exc})") from exc
        if x0 > x1 or y0 > y1:
            raise InputError(f"{path}: an object's bndbox has xmin > xmax or ymin > ymax ({x0:g}, {y0:g}, {x1:g}, {y1:g})")
        boxes.append(Box(x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5))
    if root.tag != "annotation":
        raise InputError(f"{path}: not a Pascal VOC annotation (root element <{root.tag}>)")
    return boxes


class _CocoBoxes(dict[str, list[Box]]):
    """Boxes per image name, with the names more than one image has (file name → images)."""

    shared: dict[str, list[str]]


def _coco(path: Path, data: dict[str, Any], classes: set[str], seen: set[str]) -> _CocoBoxes:
    try:
        cats = {c["id"]: c.get("name", "") for c in data.get("categories", [])}
        names = {im["id"]: str(im.get("file_name", im["id"])) for im in data["images"]}
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: its images and categories need an id each ({exc!r})") from exc
    images = {i: Path(n).stem for i, n in names.items()}
    out = _CocoBoxes({stem: [] for stem in images.values()})
    by_stem: dict[str, list[str]] = {}
    for i, stem in images.items():
        by_stem.setdefault(stem, []).append(names[i])
    # Images in different folders may share a name; their boxes must not be pooled into one image.
    out.shared = {stem: files for stem, files in by_stem.items() if len(files) > 1}
    for i, a in enumerate(data.get("annotations", [])):
        if not isinstance(a, dict):
            raise InputError(f"{path}: annotation {i} is not a JSON object")
        seen.add(str(cats.get(a.get("category_id"))))
        if classes and cats.get(a.get("category_id")) not in classes:
            continue
        if a.get("image_id") not in images:
            raise InputError(f"{path}: annotation {a.get('id')} is of image_id {a.get('image_id')}, which is not among its images")
        try:
            x, y, w, h = (float(v) for v in a["bbox"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: annotation {a.get('id')} has no usable bbox ({exc})") from exc
        if w < 0 or h < 0:
            raise InputError(f"{path}: annotation {a.get('id')} has a negative width or height (bbox {a['bbox']})")
        out[images[a["image_id"]]].append(Box(x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5))
    return out


def _geojson_boxes(path: Path, data: dict[str, Any], classes: set[str], class_key: str, seen: set[str]) -> list[Box]:
    from shapely.geometry import shape

    boxes = []
    for i, f in enumerate(data.get("features", [])):
        if not isinstance(f, dict):
            raise InputError(f"{path}: feature {i} is not a GeoJSON Feature")
        props = f.get("properties") or {}
        seen.add(str(props[class_key]) if class_key in props else f"(no {class_key!r} property; see --class-key)")
        if classes and str(props.get(class_key)) not in classes:
            continue
        try:
            geom = shape(f["geometry"])
            x0, y0, x1, y1 = geom.bounds
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: feature {i} has no usable geometry ({exc})") from exc
        if geom.area <= 0:
            raise InputError(f"{path}: feature {i} is a {geom.geom_type}, not an area: labels are boxes or polygons")
        boxes.append(Box(x0, y0, x1, y1))
    return boxes


def read_labels(
    path: Path, classes: Iterable[str] = (), class_key: str = "class", seen: set[str] | None = None,
) -> tuple[str, dict[str, list[Box]] | list[Box], str | None]:
    """``(format, boxes, crs)``: ``"voc"``, ``"geojson"`` or ``"empty"`` (a blank file) with one image's boxes, ``"coco"`` with
    boxes per image stem; ``crs`` the GeoJSON's ``crs`` member (None for the others and for
    WGS84 GeoJSON). The class of every labelled object, wanted or not, is added to ``seen``."""
    wanted = set(classes)
    seen = set() if seen is None else seen
    try:
        blank = path.stat().st_size < 4096 and not path.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"{path}: not readable ({exc})") from exc
    if blank and path.suffix.lower() in LABEL_SUFFIXES:
        return "empty", [], None  # an image without objects, as the missing-label message suggests
    if path.suffix.lower() == ".xml":
        return "voc", _voc(path, wanted, seen), None
    if path.suffix.lower() not in (".json", ".geojson"):
        raise InputError(f"{path}: labels must be Pascal VOC .xml, COCO .json or GeoJSON")
    data = _json(path)
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        return "coco", _coco(path, data, wanted, seen), None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        if _is_detect_image_output(data):
            raise InputError(f"{path}: a detect-image output, not labels (pass the label file or folder as LABELS)")
        return "geojson", _geojson_boxes(path, data, wanted, class_key, seen), _crs_name(data)
    raise InputError(f"{path}: neither COCO (images, annotations) nor a GeoJSON FeatureCollection")


def _is_detect_image_output(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("sitewatch"), dict) and "detector" in data["sitewatch"]


def image_name(det_path: Path) -> str:
    """The name (stem) of the image a detections file is of, as labels are paired with it."""
    return _image_stem(det_path)


def _image_stem(det_path: Path, fc: Any = None) -> str:
    """The image a detections file belongs to: its ``sitewatch.source`` member's stem, else its
    own; ``fc``: the file already read."""
    try:
        source = (_json(det_path) if fc is None else fc).get("sitewatch", {}).get("source")
    except (InputError, AttributeError):
        source = None
    return Path(str(source)).stem if isinstance(source, str) and source else det_path.stem


def _coco_image(label_path: Path, labels: dict[str, list[Box]], det_path: Path, stem: str) -> str:
    """The COCO image a detections file is of: named after its source (``stem``), else after itself."""
    if stem not in labels and det_path.stem not in labels:
        whose = f"the name of {det_path.name}" if stem == det_path.stem else f"the source of {det_path.name}"
        some = ", ".join(sorted(labels)[:5]) + (" …" if len(labels) > 5 else "")
        raise InputError(
            f"{label_path}: no image named {stem!r} ({whose}); COCO images are found by their "
            f"file_name ({some}): name the detections file after its image"
        )
    key = stem if stem in labels else det_path.stem
    if isinstance(labels, _CocoBoxes) and key in labels.shared:
        files = labels.shared[key]
        raise InputError(
            f"{label_path}: {len(files)} images are named {key!r} ({', '.join(files[:5])}), "
            f"so {det_path.name} cannot be told which it is: split the COCO file"
        )
    return key


def score_files(
    pairs: Sequence[tuple[Path, Path]], *, classes: Iterable[str] = (), kinds: Iterable[str] = ("vessel",),
    min_score: float = 0.0, class_key: str = "class",
) -> Counts:
    """Counts over ``(detections, labels)`` pairs (a COCO file may serve many detections files)."""
    counts = Counts()
    wanted, seen = set(classes), set[str]()
    users = Counter(lp for _, lp in pairs)
    scored: dict[tuple[Path, str], Path] = {}  # (labels, image) → the detections file scored as it
    cache: dict[Path, tuple[str, dict[str, list[Box]] | list[Box], str | None]] = {}
    sharers = {lp: {_image_stem(d) for d, q in pairs if q == lp} for lp, n in users.items() if n > 1}
    for det_path, label_path in pairs:
        if label_path not in cache:
            cache[label_path] = read_labels(label_path, wanted, class_key, seen)
        fmt, labels, label_crs = cache[label_path]
        fc = _detections_json(det_path)  # read once, for its image's name and its detections
        if fmt == "coco":
            assert isinstance(labels, dict)
            image = _coco_image(label_path, labels, det_path, _image_stem(det_path, fc))
        else:
            image = _image_stem(det_path, fc)
            if len(sharers.get(label_path, ())) > 1:
                raise InputError(
                    f"{label_path} holds one image's labels, and {users[label_path]} detections files would be "
                    "scored against it: pass the folder of label files, or one detections file"
                )
        if (label_path, image) in scored:
            raise InputError(
                f"{scored[label_path, image].name} and {det_path.name} are both detections of image {image!r} "
                f"({label_path}): keep one detections file per image"
            )
        scored[label_path, image] = det_path
        pixel, geo, det_crs = read_detections(det_path, kinds, min_score, fc)
        name = det_path.stem
        if fmt == "coco":
            assert isinstance(labels, dict)
            counts.add(name, match_boxes(pixel, labels[image]))
        elif fmt == "geojson":
            assert isinstance(labels, list)
            if not _same_crs(label_crs, det_crs):
                raise InputError(
                    f"{label_path} and {det_path} are in different coordinates "
                    f"({label_crs or 'WGS84'} against {det_crs or 'WGS84'}); reproject the labels"
                )
            if det_crs is not None and det_crs.startswith('LOCAL_CS["pixel"') and labels and all(b.y1 <= 0 for b in labels):
                raise InputError(
                    f"{label_path}: every box lies at y < 0, above the image: detect-image's pixel coordinates "
                    "run y = row downwards, while QGIS draws an image without georeference at y = -row "
                    "(flip the labels' y)"
                )
            counts.add(name, match_boxes(geo, labels))
        else:
            assert isinstance(labels, list)
            counts.add(name, match_boxes(pixel, labels))
    if wanted and seen and not wanted & seen:
        # Every box left out: the figures would read as if nothing had been labelled.
        where = pairs[0][1] if len({lp for _, lp in pairs}) == 1 else pairs[0][1].parent
        raise InputError(
            f"{where}: no labelled object of class {', '.join(map(repr, sorted(wanted)))} "
            f"(classes found: {', '.join(sorted(seen))})"
        )
    return counts


def unscored_labels(labels: Path, pairs: Sequence[tuple[Path, Path]]) -> list[Path]:
    """Label files in the folder ``labels`` that no detections file was paired with (none when
    ``labels`` is a file): an image detect-image failed on, or was never run on."""
    if not labels.is_dir():
        return []
    used = {p.resolve() for pair in pairs for p in pair}
    return [
        p for p in sorted(labels.iterdir())
        if p.suffix.lower() in LABEL_SUFFIXES and p.resolve() not in used
        and (p.suffix.lower() == ".xml" or not _is_detect_image_output(_json_or_none(p)))
    ]  # fmt: skip


def unscored_coco_images(labels: Path, pairs: Sequence[tuple[Path, Path]]) -> list[str]:
    """Images of the COCO file ``labels`` that no detections file went with (none for other labels)."""
    if not labels.is_file() or labels.suffix.lower() != ".json":
        return []
    fmt, boxes, _ = read_labels(labels)
    if fmt != "coco" or not isinstance(boxes, dict):
        return []
    used = {_coco_image(labels, boxes, d, _image_stem(d)) for d, _ in pairs}
    return sorted(set(boxes) - used)


def _detections_suffix(path: Path) -> bool:
    """A detections file in a folder: any ``.geojson``, or a ``.json`` detect-image wrote (``--out x.json``)."""
    suffix = path.suffix.lower()
    return suffix == ".geojson" or (suffix == ".json" and _is_detect_image_output(_json_or_none(path)))


def pair_files(detections: Path, labels: Path) -> list[tuple[Path, Path]]:
    """``(detections file, labels file)`` pairs from two files or folders.

    A folder of detections goes with one COCO file, or with a folder of labels in which each
    detections file finds the label file named after its image (``sitewatch.source``) or after
    itself (in any case), with a ``.xml``, ``.json`` or ``.geojson`` suffix; a blank label file
    stands for an image without objects.
    """
    dets = sorted(p for p in detections.iterdir() if p.is_file() and _detections_suffix(p)) if detections.is_dir() else [detections]
    if not dets:
        raise InputError(f"{detections}: no detections in this folder (.geojson, or .json written by detect-image)")
    stems = {d: _image_stem(d, _detections_json(d)) for d in dets}  # each read once: checked, and named
    if not labels.is_dir():
        return [(d, labels) for d in dets]
    by_stem: dict[str, Path] = {}
    by_lower: dict[str, Path] = {}  # labels named CHIP.XML for chip.jpg, as case-blind file systems allow
    det_files = {d.resolve() for d in dets}
    for p in sorted(labels.iterdir()):
        if p.suffix.lower() not in LABEL_SUFFIXES or p.resolve() in det_files:
            continue
        # detect-image --out written next to the chips must not stand in for their labels
        if p.suffix.lower() != ".xml" and _is_detect_image_output(_json_or_none(p)):
            continue
        by_stem.setdefault(p.stem, p)
        by_lower.setdefault(p.stem.lower(), p)
    pairs, missing = [], []
    for d in dets:
        names = (stems[d], d.stem)
        found = next((by_stem[s] for s in names if s in by_stem), None) or next(
            (by_lower[s.lower()] for s in names if s.lower() in by_lower), None
        )
        if found is None:
            missing.append(d.name)
        else:
            pairs.append((d, found))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"{labels}: no label file for {', '.join(missing[:5])}{more} (looked for the image's name "
            f"with {', '.join(LABEL_SUFFIXES)}); an image without ships needs an empty label file"
        )
    return pairs
