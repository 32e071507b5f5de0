"""Labelled boxes as the datasets publish them, read for ``sitewatch score``.

Every reader gives :class:`Box` es in the pixel-centre coordinates of detect-image's
``row``/``col`` (pixel centres at integers), or in a GeoJSON's own coordinates:

- **Pascal VOC XML** (one file per image; SAR-Ship-Dataset, SSDD, RSDD): ``<bndbox>``
  ``xmin..xmax`` are the image's pixel indices, inclusive, so the box spans ``xmin - 0.5 ..
  xmax + 0.5``. Rotated boxes and polygons are read as outlines: ``<robndbox>`` (roLabelImg:
  ``cx, cy, w, h`` and ``angle`` in radians, clockwise on the image), ``<rotated_bndbox>``
  (RBox-SSDD: its corners ``x1..y4``) and ``<polygon>`` (``x1, y1, x2…`` or LabelMe's
  ``<pt><x><y>``); an object with one of them is scored by it rather than its ``<bndbox>``.
  Tags are read in any case and namespace (``<Difficult>``); an encoding Python knows but
  expat does not (GBK, Big5) is decoded first.
- **HRSC2016 XML** (one file per image, ``<HRSC_Image>``): each ``<HRSC_Object>``'s rotated box ``mbox_cx, mbox_cy,
  mbox_w, mbox_h, mbox_ang`` (radians, clockwise on the image, as roLabelImg's) as an outline, else its axis-aligned
  ``box_xmin..box_ymax``, read as VOC's ``<bndbox>``; its class the ``Class_ID``, ``Img_Resolution`` its ``gsd``.
- **COCO JSON** (one file for many images): ``bbox = [x, y, w, h]`` in pixel-edge coordinates,
  ``x - 0.5 .. x + w - 0.5``; an annotation without a usable bbox is boxed by its
  ``segmentation`` (polygons, RLE with counts as a list or pycocotools' string, or such an RLE
  written as Python text, as sen2ships' per-port files have it). ``iscrowd`` is not read: CVAT
  marks every mask it exports ``iscrowd: 1``, ships included.
- **DOTA txt** (``x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]``, ``imagesource:``/``gsd:``
  header lines): the quadrilateral as an outline, in pixel-edge coordinates as DOTA's own COCO
  conversion takes them.
- **YOLO txt** (``class cx cy w h``, or YOLO OBB's ``class x1 y1 … x4 y4``, in fractions of the image's
  size; class names from a ``classes.txt`` beside it, else the numbers): boxes once the image's size is
  known, which detect-image records (:class:`YoloLabels`).
- **LabelMe JSON** (one file per image, and X-AnyLabeling's): ``shapes`` of type ``polygon``,
  ``rectangle`` (two corners, X-AnyLabeling's four) or ``rotation`` (four), points in positions from the image's top-left corner.
- **GeoJSON** boxes and polygons in the detections' own coordinates: an axis-aligned rectangle as a box,
  a rotated box or polygon as an outline (its exterior ring).
- **xView GeoJSON** (one file for many images): each feature's ``bounds_imcoords`` ``"xmin,ymin,xmax,ymax"``, pixel
  edges on the image its ``image_id`` names (the geometry, in lon/lat, is not read), boxes per image as COCO's; its
  class the ``type_id`` (or the ``--class-key`` property where a feature has it).

A *difficult* object (VOC ``<difficult>1``, DOTA's last column 1) is kept with ``difficult``
set: :func:`sitewatch.boxscore.match_boxes` neither counts it missed nor a detection on it
false, as VOC's and DOTA's own evaluations do. An outline of any format that is an axis-aligned rectangle
(:func:`fills_its_box`) is a box drawn around its object and gives no length (:attr:`Box.length`).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PureWindowsPath
from typing import Any

from .errors import InputError
from .untrusted import json_list, parse_xml

__all__ = ["LABEL_SUFFIXES", "Box", "LabelBoxes", "YoloLabels", "class_key_of", "file_stem", "read_labels"]

LABEL_SUFFIXES = (".xml", ".json", ".geojson", ".txt")

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """A labelled object: the box ``x0 <= x <= x1``, ``y0 <= y <= y1`` in the coordinates compared,
    and, for a rotated box or a polygon, its ``outline`` within that box."""

    x0: float
    y0: float
    x1: float
    y1: float
    outline: tuple[Point, ...] = ()
    """Vertices of a rotated box or polygon; a point must lie inside it too (edges included)."""
    difficult: bool = False
    """Flagged difficult by the dataset: neither a miss when undetected nor a false alarm when detected."""
    length: Callable[[float, float], float | None] | None = field(default=None, compare=False, repr=False)
    """The long side of the object's oriented box (a rotated box's, a polygon's or a mask's) given the
    size of a unit of the labels' coordinates along x and y in ground metres (a pixel's; for a GeoJSON in a
    projected CRS, its metres over the projection's scale factor at the label); None for an axis-aligned box, whose sides are not a ship's length (a ship lying diagonally
    fills its box's corners). Measured when asked: only matched objects are."""

    def __post_init__(self) -> None:
        if not (self.x0 <= self.x1 and self.y0 <= self.y1):
            raise InputError(f"a labelled box has its corners the wrong way round: {self}")

    @classmethod
    def around(cls, points: list[Point], difficult: bool = False) -> Box:
        """The box of an outline (at least three points), with its oriented length (:func:`outline_length`), or
        none when the outline is an axis-aligned rectangle (:func:`fills_its_box`), as a GeoJSON rectangle has none."""
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        length = None if fills_its_box(points) else partial(outline_length, tuple(points))
        return cls(min(xs), min(ys), max(xs), max(ys), tuple(points), difficult, length)

    def holds(self, x: float, y: float) -> bool:
        """Whether (x, y) lies in the box and, when it has one, in its outline (edges included)."""
        if not (self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1):
            return False
        return not self.outline or _in_polygon(x, y, self.outline)


class LabelBoxes(list[Box]):
    """One image's boxes, with what its label file says of the image: ``size`` (VOC ``<size>``: width and
    height in pixels) and ``gsd`` (DOTA's ``gsd:`` line: metres a pixel), each None when not stated."""

    size: tuple[float, float] | None = None
    gsd: float | None = None


def fills_its_box(points: Sequence[Point]) -> bool:
    """Whether an outline is an axis-aligned rectangle (its area that of its box): a box drawn around an object,
    whatever the format writes it as (a DOTA quadrilateral, a YOLO oriented box, a polygon), whose long side is not a
    ship's length (a ship lying diagonally fills its corners); one rule for every format, GeoJSON's."""
    # From the box's corner: a label in Web Mercator metres (millions) lost the area's last digits to rounding.
    xs, ys = [p[0] - min(p[0] for p in points) for p in points], [p[1] - min(p[1] for p in points) for p in points]
    box = max(xs) * max(ys)
    n = len(points)
    area = abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2
    return box > 0 and abs(area - box) <= 1e-9 * box


def outline_length(points: tuple[Point, ...], sx: float = 1.0, sy: float = 1.0) -> float | None:
    """Long side of the smallest rotated rectangle around an outline (a rotated box's own length), its
    x and y scaled by ``sx`` and ``sy``; None when the outline has no area."""
    from shapely.geometry import MultiPoint

    rect = MultiPoint([(x * sx, y * sy) for x, y in points]).minimum_rotated_rectangle
    if rect.geom_type != "Polygon" or rect.area <= 0:
        return None
    (xa, ya), (xb, yb), (xc, yc) = list(rect.exterior.coords)[:3]
    return max(math.hypot(xb - xa, yb - ya), math.hypot(xc - xb, yc - yb))


def mask_length(mask: Any, sx: float = 1.0, sy: float = 1.0) -> float | None:
    """Long axis of the oriented box of one object's pixels (``mask``, a boolean array, its pixels
    ``sx`` by ``sy``): their second moments, the footprints' extent along that axis, as
    ``benchmarks/optical_sen2ships.py`` measures labelled masks
    (:func:`sitewatch.detect.base.measure_components`); None without a pixel."""
    import numpy as np

    from .detect.base import measure_components

    labels = np.asarray(mask, bool).astype(np.int32)
    if not labels.any():
        return None
    return float(measure_components(labels, np.array([1]), (sx, sy))["length_m"][0])


def pixels_mask(rows: Any, cols: Any) -> Any:
    """The smallest boolean array holding pixels (``rows``, ``cols``), for :func:`mask_length`."""
    import numpy as np

    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    mask = np.zeros((int(rows.max()) - int(rows.min()) + 1, int(cols.max()) - int(cols.min()) + 1), bool)
    mask[rows - rows.min(), cols - cols.min()] = True
    return mask


def _in_polygon(x: float, y: float, pts: tuple[Point, ...]) -> bool:
    """Even-odd rule, a point on an edge inside (as a box holds its edges)."""
    inside = False
    for (xa, ya), (xb, yb) in zip(pts, pts[1:] + pts[:1], strict=True):
        cross = (xb - xa) * (y - ya) - (yb - ya) * (x - xa)
        if abs(cross) <= 1e-9 * (abs(xb - xa) + abs(yb - ya) + 1) and min(xa, xb) <= x <= max(xa, xb) and min(ya, yb) <= y <= max(ya, yb):
            return True
        if (ya > y) != (yb > y) and x < xa + (y - ya) * (xb - xa) / (yb - ya):
            inside = not inside
    return inside


def class_key_of(name: str) -> str:
    """A class name as ``--class`` compares it: case and runs of white space do not count (``Ship`` is ``ship``)."""
    return " ".join(name.split()).casefold()


def file_stem(name: str) -> str:
    """The stem of a file name written on any system (``images\\train\\P1.jpg`` → ``P1``)."""
    return PureWindowsPath(name).stem


def read_json(path: Path) -> Any:
    """The parsed JSON of a file (UTF-8, a byte-order mark allowed); an InputError when it cannot be read."""
    try:
        return json.loads(path.read_bytes())  # bytes: UTF-8 whatever the locale, a byte-order mark allowed
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError, a number of more than 4300 digits
        raise InputError(f"{path}: not readable JSON ({exc})") from exc
    except RecursionError as exc:  # "[[[[…" a hundred thousand deep: Python's parser recurses
        raise InputError(f"{path}: its JSON is nested too deeply to read") from exc


def is_detect_image_output(data: Any) -> bool:
    """Whether parsed JSON is a ``sitewatch detect-image`` output (its ``sitewatch`` member names a detector)."""
    return isinstance(data, dict) and isinstance(data.get("sitewatch"), dict) and "detector" in data["sitewatch"]


def _number(text: str | None, what: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"{what} is not a number ({text!r})")
    return value


# --- Pascal VOC -------------------------------------------------------------------------------

def _xml_root(path: Path) -> ET.Element:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: not readable XML ({exc})") from exc
    try:
        return parse_xml(data, str(path))  # GBK, as Chinese tools write and declare it, too
    except ET.ParseError as exc:
        raise InputError(f"{path}: not readable XML ({exc})") from exc


def _plain_tags(root: ET.Element) -> None:
    """Tags without namespace, in lower case: ``<Difficult>`` (SAR-Ship-Dataset) is ``<difficult>``."""
    for el in root.iter():
        if isinstance(el.tag, str):
            el.tag = el.tag.rsplit("}", 1)[-1].lower()


def _numbered_points(el: ET.Element, what: str) -> list[Point]:
    """``x1, y1, x2, y2…`` children (RBox-SSDD corners, DOTA-style polygons), in order."""
    pts = []
    for k in range(1, 10_000):
        x, y = el.find(f"x{k}"), el.find(f"y{k}")
        if x is None or y is None:
            break
        pts.append((_number(x.text, f"{what} x{k}"), _number(y.text, f"{what} y{k}")))
    return pts


def _rotated(el: ET.Element, prefix: str, angle_tag: str, what: str) -> list[Point] | None:
    """The corners of ``cx, cy, w, h, angle`` (roLabelImg: radians, turning the w side clockwise on the image)."""
    if el.find(f"{prefix}cx") is None:
        return None
    cx, cy, w, h = (_number(el.findtext(f"{prefix}{k}"), f"{what} {prefix}{k}") for k in ("cx", "cy", "w", "h"))
    a = _number(el.findtext(angle_tag), f"{what} {angle_tag}")
    if abs(a) > 2 * math.pi + 1e-6:
        raise InputError(f"{what} has {angle_tag} {a:g}, not an angle in radians (roLabelImg and HRSC2016 write radians)")
    c, s = math.cos(a), math.sin(a)
    return [(cx + c * dx - s * dy, cy + s * dx + c * dy) for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]


def _voc_outline(obj: ET.Element, what: str) -> list[Point] | None:
    """A rotated box or polygon of a VOC object, in its file's coordinates; None when it has neither."""
    for tag in ("rotated_bndbox", "robndbox", "polygon"):
        el = obj.find(tag)
        if el is None:
            continue
        pts = _numbered_points(el, f"{what} <{tag}>") or [
            (_number(pt.findtext("x"), f"{what} <{tag}> x"), _number(pt.findtext("y"), f"{what} <{tag}> y")) for pt in el.findall("pt")
        ] or _rotated(el, "rotated_bbox_" if tag == "rotated_bndbox" else "", "rotated_bbox_theta" if tag == "rotated_bndbox" else "angle", f"{what} <{tag}>")  # fmt: skip
        if not pts or len(pts) < 3:
            raise InputError(f"{what} has a <{tag}> without corners (x1, y1… or cx, cy, w, h, angle)")
        return pts
    return None


def _voc(path: Path, wanted: set[str], seen: set[str]) -> LabelBoxes:
    root = _xml_root(path)
    _plain_tags(root)
    if root.tag == "hrsc_image":
        return _hrsc(path, root, wanted, seen)
    if root.tag != "annotation":
        raise InputError(f"{path}: not a Pascal VOC annotation (root element <{root.tag}>) nor an HRSC2016 one (<HRSC_Image>)")
    boxes = LabelBoxes()
    try:
        w, h = (float(root.findtext(f"size/{k}") or "") for k in ("width", "height"))
        boxes.size = (w, h) if w > 0 and h > 0 and math.isfinite(w + h) else None
    except ValueError:
        pass  # no <size>, or not numbers: nothing to check the image against
    for i, obj in enumerate(root.iter("object")):
        name = " ".join((obj.findtext("name") or "").split())
        seen.add(name)
        if wanted and class_key_of(name) not in wanted:
            continue
        what = f"{path}: object {i} ({name!r})"
        difficult = (obj.findtext("difficult") or "0").strip().lower() in ("1", "true", "yes")
        outline = _voc_outline(obj, what)
        if outline is not None:
            # Corners are positions on the image, as COCO's and DOTA's: from its top-left corner.
            boxes.append(Box.around([(x - 0.5, y - 0.5) for x, y in outline], difficult))
            continue
        bb = obj.find("bndbox")
        if bb is None:
            raise InputError(f"{what} has no <bndbox>, <robndbox>, <rotated_bndbox> or <polygon>")
        try:
            x0, y0, x1, y1 = (float(bb.findtext(k) or "") for k in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError as exc:
            raise InputError(f"{path}: an object's bndbox is not four numbers ({exc})") from exc
        if x0 > x1 or y0 > y1:
            raise InputError(f"{path}: an object's bndbox has xmin > xmax or ymin > ymax ({x0:g}, {y0:g}, {x1:g}, {y1:g})")
        boxes.append(Box(x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5, difficult=difficult))
    return boxes


def _hrsc(path: Path, root: ET.Element, wanted: set[str], seen: set[str]) -> LabelBoxes:
    """HRSC2016 (``<HRSC_Image>``, tags already plain): each ``<HRSC_Object>``'s rotated box ``mbox_*``, else its
    axis-aligned ``box_*``, whose sides are then no ship's length (:attr:`Box.length`)."""
    boxes = LabelBoxes()
    try:
        w, h = (float(root.findtext(k) or "") for k in ("img_sizewidth", "img_sizeheight"))
        boxes.size = (w, h) if w > 0 and h > 0 and math.isfinite(w + h) else None
    except ValueError:
        pass  # no size, or not numbers: nothing to check the image against
    res = (root.findtext("img_resolution") or "").strip()
    if _is_number(res) and float(res) > 0:
        boxes.gsd = float(res)  # metres a pixel, as DOTA's gsd
    for i, obj in enumerate(root.iter("hrsc_object")):
        name = " ".join((obj.findtext("class_id") or "").split())
        seen.add(name)
        if wanted and class_key_of(name) not in wanted:
            continue
        what = f"{path}: HRSC_Object {i} (Class_ID {name!r})"
        difficult = (obj.findtext("difficult") or "0").strip().lower() in ("1", "true", "yes")
        pts = _rotated(obj, "mbox_", "mbox_ang", what)
        if pts is not None:
            # Positions on the image from its top-left corner, as <robndbox>'s and DOTA's corners.
            boxes.append(Box.around([(x - 0.5, y - 0.5) for x, y in pts], difficult))
            continue
        if obj.find("box_xmin") is None:
            raise InputError(f"{what} has neither a rotated box (mbox_cx, mbox_cy, mbox_w, mbox_h, mbox_ang) nor box_xmin…box_ymax")
        x0, y0, x1, y1 = (_number(obj.findtext(f"box_{k}"), f"{what} box_{k}") for k in ("xmin", "ymin", "xmax", "ymax"))
        if x0 > x1 or y0 > y1:
            raise InputError(f"{what} has box_xmin > box_xmax or box_ymin > box_ymax ({x0:g}, {y0:g}, {x1:g}, {y1:g})")
        # Inclusive pixel indices, as VOC's <bndbox>.
        boxes.append(Box(x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5, difficult=difficult))
    return boxes


# --- COCO -------------------------------------------------------------------------------------


class CocoBoxes(dict[str, list[Box]]):
    """Boxes per image: keyed by the ``file_name`` stem, or by the whole ``file_name`` for images
    sharing their stem with another (``train/x.jpg``, ``val/x.jpg``), listed in ``shared``."""

    shared: dict[str, list[str]]
    sizes: dict[str, tuple[float, float]]
    """Each image's ``width`` and ``height`` where the file gives them."""
    folded: dict[str, str]
    """Keys by their case-folded form, to find ``A.JPG``'s boxes for ``a.geojson``."""
    found_by: str = "COCO images are found by their file_name"
    """How the file names its images, for a message when a detections file's image is not among them."""
    no_area: dict[str, list[str]]
    """Each image's features left out for a box of no area (xView's: ``bounds_imcoords`` empty, or of zero width or
    height), each described, for :func:`~sitewatch.boxscore.score_files` to warn of and count."""


def _rle_counts(counts: str) -> list[int]:
    """pycocotools' compressed RLE string (``rleFrString``): 5-bit groups, deltas after the second run."""
    out: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p >= len(counts):
                raise ValueError("the RLE string ends inside a number")
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"{counts[p]!r} is not an RLE character")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


MAX_MEASURED_PIXELS = 4096 * 4096
"""Largest extent (pixels) of a label's mask whose length is measured: a 400 m hull at 0.3 m a pixel spans
1 350; a mask of a few RLE numbers can span any number (measured over an int32 array of its extent)."""


def _rle_box(seg: dict[str, Any]) -> Box | None:
    """The box of an RLE mask's pixels (column-major runs, zeros first); None when it has none."""
    h, w = (int(v) for v in seg["size"])
    counts = seg["counts"]
    runs = _rle_counts(counts) if isinstance(counts, str) else [int(v) for v in counts]
    if any(n < 0 for n in runs) or sum(runs) != h * w:
        raise ValueError(f"its RLE counts sum to {sum(runs)}, not height × width {h} × {w}")
    import numpy as np

    c0 = r0 = math.inf
    c1 = r1 = -math.inf
    start = 0
    pieces = []
    for k, n in enumerate(runs):
        if k % 2 and n:
            end = start + n - 1
            (ca, ra), (cb, rb) = divmod(start, h), divmod(end, h)
            c0, c1 = min(c0, ca), max(c1, cb)
            r0, r1 = (min(r0, ra), max(r1, rb)) if ca == cb else (0, h - 1)
            pieces.append((start, end))
        start += n
    if c0 == math.inf:
        return None
    box = Box(c0 - 0.5, r0 - 0.5, c1 + 0.5, r1 + 0.5)
    if (r1 - r0 + 1) * (c1 - c0 + 1) > MAX_MEASURED_PIXELS:
        return box  # a few numbers may span gigapixels: no object is measured over an array that size
    flat = np.concatenate([np.arange(a, b + 1) for a, b in pieces])  # column-major pixel numbers, as COCO's RLE counts them
    return dataclasses.replace(box, length=partial(mask_length, pixels_mask(flat % h, flat // h)))


def _segmentation_box(seg: Any) -> Box | None:
    """The box of a COCO segmentation: polygons in pixel-edge coordinates, or an RLE mask."""
    if isinstance(seg, str):
        # sen2ships' per-port files hold the RLE as Python's text of a dict ("{'counts': [...], ...}").
        seg = ast.literal_eval(seg)
    if isinstance(seg, dict):
        return _rle_box(seg)
    xs: list[float] = []
    ys: list[float] = []
    for poly in seg:
        values = [float(v) for v in poly]
        xs += values[0::2]
        ys += values[1::2]
    if not xs or not all(map(math.isfinite, xs + ys)):
        return None
    points = tuple(zip(xs, ys, strict=True))
    length = partial(outline_length, points) if len(xs) >= 3 and (len(seg) > 1 or not fills_its_box(points)) else None
    return Box(min(xs) - 0.5, min(ys) - 0.5, max(xs) - 0.5, max(ys) - 0.5, length=length)


def _coco_box(path: Path, i: int, a: dict[str, Any], size: tuple[Any, Any], raw: list[float]) -> Box:
    aid = a.get("id", f"#{i}")
    bbox = a.get("bbox")
    box = None
    if bbox not in (None, []):
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputError(f"{path}: annotation {aid} has no usable bbox ({exc})") from exc
        if not all(map(math.isfinite, (x, y, w, h))):
            raise InputError(f"{path}: annotation {aid} has a bbox that is not four numbers ({bbox})")
        if w < 0 or h < 0:
            raise InputError(f"{path}: annotation {aid} has a negative width or height (bbox {bbox})")
        raw += [x, y, w, h]
        if w > 0 and h > 0:
            box = Box(x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5)
    if box is None and a.get("segmentation"):
        try:
            box = _segmentation_box(a["segmentation"])
        except (TypeError, ValueError, OverflowError, KeyError, SyntaxError, MemoryError, RecursionError) as exc:
            raise InputError(f"{path}: annotation {aid} has no bbox and its segmentation is not readable ({exc!r})") from exc
    if box is None:
        why = f"a zero width or height (bbox {bbox})" if bbox not in (None, []) else "no bbox"
        raise InputError(f"{path}: annotation {aid} has {why} and no segmentation to take its extent from: no detection could fall inside it")
    if box.length is None and a.get("segmentation"):
        # Scored by its bbox, measured by its mask or polygon (the length error of `score`), when that reads.
        try:
            outline = _segmentation_box(a["segmentation"])
        except (TypeError, ValueError, OverflowError, KeyError, SyntaxError, MemoryError, RecursionError):
            outline = None
        if outline is not None:
            box = dataclasses.replace(box, length=outline.length)
    width, height = size
    if isinstance(width, (int, float)) and isinstance(height, (int, float)) and width > 0 and height > 0:
        if box.x1 > width - 0.5 + 2 or box.y1 > height - 0.5 + 2:
            raise InputError(
                f"{path}: annotation {aid} (bbox {bbox}) reaches beyond its image ({width:g} × {height:g} pixels); "
                "COCO boxes are [x, y, width, height], and boxes written as [x0, y0, x1, y1] read so"
            )
    return box


def _image_side(path: Path, im: dict[str, Any], key: str) -> Any:
    """A COCO image's ``width`` or ``height`` as given; a number no float holds (hundreds of digits, NaN,
    infinity) is refused by name, as it would fail the check of boxes against their image later."""
    value = im.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        if not finite:
            text = str(value)
            shown = text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"
            raise InputError(f"{path}: image {str(im['id'])[:40]} has {key} {shown}, which is no number of pixels")
    return value


def _per_image(names: dict[Any, str]) -> tuple[dict[Any, str], CocoBoxes]:
    """Each image id's key (its file name's stem, or the whole name for images sharing a stem) and empty
    :class:`CocoBoxes` of those keys, for a file labelling many images (COCO's, xView's)."""
    by_stem: dict[str, list[str]] = {}
    for n in names.values():
        by_stem.setdefault(file_stem(n), []).append(n)
    # Images in different folders may share a name; their boxes must not be pooled into one image.
    keys = {i: n.replace("\\", "/") if len(by_stem[file_stem(n)]) > 1 else file_stem(n) for i, n in names.items()}
    out = CocoBoxes({k: [] for k in keys.values()})
    out.sizes = {}
    out.shared = {stem: files for stem, files in by_stem.items() if len(files) > 1}
    out.folded = {k.casefold(): k for k in out}
    out.no_area = {}
    return keys, out


def _coco(path: Path, data: dict[str, Any], wanted: set[str], seen: set[str]) -> CocoBoxes:
    try:
        cats = {c["id"]: str(c.get("name") or "") for c in data.get("categories") or []}
        names: dict[Any, str] = {}
        sizes: dict[Any, tuple[Any, Any]] = {}
        for im in data["images"]:
            if im["id"] in names:
                raise InputError(f"{path}: image id {im['id']} is given twice ({names[im['id']]}, {im.get('file_name')})")
            names[im["id"]] = str(im.get("file_name", im["id"]))
            sizes[im["id"]] = (_image_side(path, im, "width"), _image_side(path, im, "height"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: its images and categories need an id each ({exc!r})") from exc
    keys, out = _per_image(names)
    out.sizes = {keys[i]: (float(w), float(h)) for i, (w, h) in sizes.items() if _positive(w) and _positive(h)}
    raw: list[float] = []
    for i, a in enumerate(json_list(data, "annotations", path)):
        if not isinstance(a, dict):
            raise InputError(f"{path}: annotation {i} is not a JSON object")
        cid = a.get("category_id")
        name = cats.get(cid) if _hashable(cid) else None
        if wanted and cats and name is None:
            raise InputError(
                f"{path}: annotation {a.get('id', f'#{i}')} has category_id {cid!r}, which is not among its categories "
                f"({', '.join(f'{k}: {v}' for k, v in list(cats.items())[:8])}), so --class cannot tell whether it is wanted"
            )
        label = name or ("(no category)" if cid is None else str(cid))
        seen.add(label)
        if wanted and class_key_of(label) not in wanted:
            continue
        image_id = a.get("image_id")
        if not _hashable(image_id) or image_id not in keys:
            raise InputError(f"{path}: annotation {a.get('id')} is of image_id {image_id}, which is not among its images")
        out[keys[image_id]].append(_coco_box(path, i, a, sizes[image_id], raw))
    if raw and max(raw) <= 1 and min(raw) >= 0 and any(v != int(v) for v in raw):
        raise InputError(
            f"{path}: every bbox lies within 0..1, fractions of the image rather than pixels; COCO boxes are in pixels"
        )
    return out


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf


def _hashable(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


# --- DOTA -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class YoloLabels:
    """A YOLO label file's objects, in fractions of an image's size that the file does not hold: boxes come
    with the size (:meth:`boxes`), which detect-image records (``sitewatch.image_size``)."""

    path: Path
    corners: tuple[tuple[Point, ...], ...]
    """Each object's corners in fractions of the image's width and height, from its top-left corner: an
    axis-aligned box's two (``x0, y0``, ``x1, y1``), an oriented box's four (YOLO OBB)."""

    def boxes(self, width: float, height: float) -> list[Box]:
        """The objects on an image of ``width`` × ``height`` pixels, in pixel-centre coordinates."""
        out = []
        for pts in self.corners:
            px = [(x * width - 0.5, y * height - 0.5) for x, y in pts]
            out.append(Box(px[0][0], px[0][1], px[1][0], px[1][1]) if len(px) == 2 else Box.around(px))
        return out


YOLO_CLASS_NAMES = "classes.txt"
"""Beside YOLO label files, the class names, one a line in the order of their numbers (as labelImg writes it)."""


def _yolo(path: Path, lines: list[tuple[int, str]], wanted: set[str], seen: set[str]) -> YoloLabels:
    """YOLO ``class cx cy w h`` or YOLO OBB ``class x1 y1 x2 y2 x3 y3 x4 y4`` lines, in fractions of the image."""
    names: list[str] = []
    named = path.parent / YOLO_CLASS_NAMES
    if named.is_file() and named != path:
        try:
            names = [" ".join(ln.split()) for ln in named.read_bytes().decode("utf-8-sig").splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{named}: not readable text ({exc}); it names the classes of {path.name}") from exc
    objects: list[tuple[Point, ...]] = []
    for n, s in lines:
        parts = s.replace(",", " ").split()
        if len(parts) not in (5, 9) or not all(map(_is_number, parts)):
            raise InputError(
                f"{path}, line {n}: not a YOLO object (class cx cy w h, or class x1 y1 … x4 y4 for oriented boxes, "
                f"in fractions of the image's size): {s[:60]!r}"
            )
        v = [float(p) for p in parts[1:]]
        if not all(-0.01 <= x <= 1.01 for x in v):
            raise InputError(
                f"{path}, line {n}: {s[:60]!r} holds values outside 0..1: YOLO labels are fractions of the image's size "
                "(pixels are DOTA's, COCO's or VOC's)"
            )
        number = float(parts[0])
        if number != int(number) or number < 0:
            raise InputError(f"{path}, line {n}: class {parts[0]!r} is not a class number (0, 1, …)")
        k = int(number)
        if names and k >= len(names):
            raise InputError(f"{path}, line {n}: class {k}, and {named.name} names {len(names)} class(es) (0..{len(names) - 1})")
        name = names[k] if names else str(k)
        seen.add(name)
        if wanted and class_key_of(name) not in wanted:
            continue
        if len(v) == 4:
            cx, cy, w, h = v
            if w <= 0 or h <= 0:
                raise InputError(f"{path}, line {n}: a box of zero width or height ({s[:60]!r}): no detection could fall inside it")
            objects.append(((cx - w / 2, cy - h / 2), (cx + w / 2, cy + h / 2)))
        else:
            objects.append(tuple((v[k], v[k + 1]) for k in range(0, 8, 2)))
    return YoloLabels(path, tuple(objects))


def _dota(path: Path, wanted: set[str], seen: set[str]) -> LabelBoxes | YoloLabels:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not readable text ({exc})") from exc
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    objects = [(n, s) for n, s in lines if not s.casefold().startswith(("imagesource:", "gsd:"))]
    if objects and all(map(_is_number, objects[0][1].replace(",", " ").split())):
        # A class number and fractions: YOLO (DOTA's lines end in a class name).
        return _yolo(path, objects, wanted, seen)
    boxes = LabelBoxes()
    gsd = [s.split(":", 1)[1].strip() for _, s in lines if s.casefold().startswith("gsd:")]
    if gsd and _is_number(gsd[0]) and float(gsd[0]) > 0:
        boxes.gsd = float(gsd[0])
    for n, s in objects:
        parts = s.replace(",", " ").split()
        numeric = [_is_number(p) for p in parts]
        if all(numeric):
            raise InputError(f"{path}, line {n}: a line of numbers alone (YOLO's) among DOTA objects: {s[:60]!r}")
        if len(parts) < 9 or not all(numeric[:8]):
            raise InputError(f"{path}, line {n}: not a DOTA object (x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]): {s[:60]!r}")
        name = parts[8]
        seen.add(name)
        if wanted and class_key_of(name) not in wanted:
            continue
        v = [float(p) for p in parts[:8]]
        pts = [(v[k] - 0.5, v[k + 1] - 0.5) for k in range(0, 8, 2)]
        boxes.append(Box.around(pts, difficult=len(parts) > 9 and parts[9] == "1"))
    return boxes


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def looks_like_dota(path: Path) -> bool:
    """Whether a ``.txt`` in a labels folder is a label file (blank, or holding a DOTA or YOLO object line),
    not a ``classes.txt`` or a read-me."""
    try:
        data = path.read_bytes()[:65536].decode("utf-8-sig", errors="replace")
    except OSError:
        return False
    lines = [ln.replace(",", " ").split() for ln in data.splitlines() if ln.strip()]
    objects = [p for p in lines if not p[0].casefold().startswith(("imagesource:", "gsd:"))]
    dota = any(len(p) >= 9 and all(map(_is_number, p[:8])) for p in objects)
    yolo = any(len(p) in (5, 9) and all(map(_is_number, p)) for p in objects)
    return not objects or dota or yolo


# --- LabelMe ----------------------------------------------------------------------------------

LABELME_SHAPES = ("polygon", "rectangle", "rotation")
"""LabelMe ``shape_type`` values that outline an object (``rotation``: X-AnyLabeling's rotated box, 4 corners)."""


def _labelme(path: Path, data: dict[str, Any], wanted: set[str], seen: set[str]) -> LabelBoxes:
    """A LabelMe (or X-AnyLabeling) file: one image's ``shapes``, points in positions from its top-left corner."""
    boxes = LabelBoxes()
    w, h = data.get("imageWidth"), data.get("imageHeight")
    if isinstance(w, (int, float)) and isinstance(h, (int, float)) and _positive(w) and _positive(h):
        boxes.size = (float(w), float(h))
    for i, shp in enumerate(json_list(data, "shapes", path)):
        if not isinstance(shp, dict):
            raise InputError(f"{path}: shape {i} is not a JSON object")
        name = " ".join(str(shp.get("label") or "").split())
        seen.add(name)
        if wanted and class_key_of(name) not in wanted:
            continue
        kind = shp.get("shape_type") or "polygon"
        what = f"{path}: shape {i} ({name!r}, {kind})"
        if kind not in LABELME_SHAPES:
            raise InputError(f"{what}: not an outline ({', '.join(LABELME_SHAPES)}): a labelled object is an area")
        try:
            pts = [(float(x), float(y)) for x, y in shp.get("points") or []]
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputError(f"{what}: its points are not [x, y] pairs ({exc})") from exc
        if not all(math.isfinite(v) for pt in pts for v in pt):
            raise InputError(f"{what}: a point that is not a number")
        difficult = shp.get("difficult") is True or (isinstance(shp.get("flags"), dict) and shp["flags"].get("difficult") is True)
        # Positions from the image's corner; detect-image's pixel centres are at integers.
        pts = [(x - 0.5, y - 0.5) for x, y in pts]
        if kind == "rectangle":
            # LabelMe saves two opposite corners, X-AnyLabeling all four (its issue 1262).
            if len(pts) not in (2, 4):
                raise InputError(f"{what}: a rectangle has two corners (LabelMe) or four (X-AnyLabeling), not {len(pts)}")
            (xa, ya), (xb, yb) = (min(x for x, _ in pts), min(y for _, y in pts)), (max(x for x, _ in pts), max(y for _, y in pts))
            if xa == xb or ya == yb:
                raise InputError(f"{what}: a rectangle of zero width or height: no detection could fall inside it")
            boxes.append(Box(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb), difficult=difficult))
        elif len(pts) < 3:
            raise InputError(f"{what}: an outline of {len(pts)} point(s); it needs three at least")
        else:
            boxes.append(Box.around(pts, difficult))
    return boxes


# --- GeoJSON ----------------------------------------------------------------------------------


def geojson_features(path: Path, data: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Each feature of a GeoJSON FeatureCollection read from ``path``, as (index, feature, properties);
    a feature or its properties that are no JSON object are an :class:`InputError` when reached."""
    for i, f in enumerate(json_list(data, "features", path)):
        if not isinstance(f, dict):
            raise InputError(f"{path}: feature {i} is not a GeoJSON Feature")
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            raise InputError(f"{path}: feature {i} has properties that are no JSON object ({json.dumps(props)[:40]})")
        yield i, f, props


def _geojson_boxes(path: Path, data: dict[str, Any], wanted: set[str], class_key: str, seen: set[str]) -> list[Box]:
    from shapely.errors import ShapelyError
    from shapely.geometry import shape

    boxes = []
    for i, f, props in geojson_features(path, data):
        label = str(props[class_key]) if class_key in props else f"(no {class_key!r} property; see --class-key)"
        seen.add(label)
        if wanted and class_key_of(label) not in wanted:
            continue
        if f.get("geometry") is None:
            raise InputError(f"{path}: feature {i} has no geometry (null): a label is a box or polygon")
        try:
            geom = shape(f["geometry"])
            x0, y0, x1, y1 = geom.bounds
        except (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError, ShapelyError) as exc:
            raise InputError(f"{path}: feature {i} has no usable geometry ({exc})") from exc
        if geom.area <= 0:
            raise InputError(f"{path}: feature {i} is a {geom.geom_type}, not an area: labels are boxes or polygons")
        parts = [g for g in getattr(geom, "geoms", [geom]) if g.area > 0]
        if len(parts) > 1:
            # One box around ships apart would hold the water between them.
            raise InputError(
                f"{path}: feature {i} is a {geom.geom_type} of {len(parts)} separate areas; one labelled object is one "
                "polygon (QGIS: Vector > Geometry Tools > Multipart to Singleparts)"
            )
        if geom.geom_type != "Polygon" or fills_its_box(list(geom.exterior.coords)[:-1]):
            # An axis-aligned rectangle is a box drawn around the object: its sides are not a ship's length.
            boxes.append(Box(x0, y0, x1, y1))
            continue
        # A rotated box or polygon is what a centroid must fall in, as DOTA's quadrilaterals and VOC's
        # <robndbox> are: its envelope also holds the water beside a ship lying diagonally, and a neighbour's hull.
        ring = [(float(x), float(y)) for x, y, *_ in geom.exterior.coords[:-1]]
        boxes.append(Box.around(ring))
    return boxes


XVIEW_CLASS = "type_id"
"""The property of an xView feature that holds its class (a number: 11, 12, … 94)."""


def is_xview(data: Any) -> bool:
    """Whether parsed JSON is an xView-style FeatureCollection: features over many images, each with its
    ``image_id`` and ``bounds_imcoords`` (pixels)."""
    feats = data.get("features") if isinstance(data, dict) and data.get("type") == "FeatureCollection" else None
    if not isinstance(feats, list) or not feats or not isinstance(feats[0], dict):
        return False
    props = feats[0].get("properties")
    return isinstance(props, dict) and "bounds_imcoords" in props and "image_id" in props


def _xview(path: Path, data: dict[str, Any], wanted: set[str], class_key: str, seen: set[str]) -> CocoBoxes:
    """xView's boxes per image: ``bounds_imcoords`` ``"xmin,ymin,xmax,ymax"`` in pixel edges of the image its
    ``image_id`` names, axis-aligned (no length); the lon/lat geometry beside them is not read."""
    feats = list(geojson_features(path, data))
    names: dict[Any, str] = {}
    for i, _, props in feats:
        image_id = props.get("image_id")
        if not isinstance(image_id, (str, int)) or isinstance(image_id, bool) or not str(image_id).strip():
            raise InputError(f"{path}: feature {i} has image_id {json.dumps(image_id)[:40]}, not the name of an image (xView: \"1036.tif\")")
        names[str(image_id)] = str(image_id)
    keys, out = _per_image(names)
    out.found_by = "xView images are found by their image_id"
    for i, _, props in feats:
        raw = props[class_key] if class_key in props else props.get(XVIEW_CLASS)
        label = "(no type_id)" if raw is None else str(raw)
        seen.add(label)
        if wanted and class_key_of(label) not in wanted:
            continue
        bounds = props.get("bounds_imcoords")
        key = keys[str(props["image_id"])]
        if bounds == [] or (isinstance(bounds, str) and not bounds.strip()):
            # The real xView_train.geojson holds such features: one refused the whole file.
            out.no_area.setdefault(key, []).append(f"feature {i} (class {label}) has an empty bounds_imcoords")
            continue
        parts = bounds.split(",") if isinstance(bounds, str) else bounds if isinstance(bounds, list) else []
        if len(parts) != 4 or not all(_is_number(str(v)) for v in parts):
            raise InputError(f"{path}: feature {i} has bounds_imcoords {json.dumps(bounds)[:60]}, not \"xmin,ymin,xmax,ymax\" in pixels")
        x0, y0, x1, y1 = (float(v) for v in parts)
        if x0 > x1 or y0 > y1:
            raise InputError(
                f"{path}: feature {i} has bounds_imcoords {bounds!r}: xmin > xmax or ymin > ymax, not \"xmin,ymin,xmax,ymax\""
            )
        if x0 == x1 or y0 == y1:
            out.no_area.setdefault(key, []).append(f"feature {i} (class {label}) has bounds_imcoords {bounds!r}, a box of zero width or height")
            continue
        # Pixel edges from the image's corner, as COCO's bbox: detect-image's pixel centres are at integers.
        out[key].append(Box(x0 - 0.5, y0 - 0.5, x1 - 0.5, y1 - 0.5))
    return out


def crs_name(fc: dict[str, Any], origin: str = "GeoJSON") -> str | None:
    """The name in a GeoJSON's ``crs`` member (e.g. ``EPSG:32633``); None when it has no such member.

    A ``crs`` whose ``properties`` is no JSON object is an :class:`~sitewatch.errors.InputError` naming ``origin``.
    """
    crs = fc.get("crs")
    if not isinstance(crs, dict):
        return None
    props = crs.get("properties", {})
    if not isinstance(props, dict):
        raise InputError(f"{origin}: cannot read its 'crs' member {json.dumps(crs)[:80]}; "
                         'write it as {"type": "name", "properties": {"name": "EPSG:32633"}}')  # fmt: skip
    return str(props.get("name"))


# --- any ----------------------------------------------------------------------------------------


def read_labels(
    path: Path, classes: Any = (), class_key: str = "class", seen: set[str] | None = None,
) -> tuple[str, dict[str, list[Box]] | list[Box] | YoloLabels, str | None]:
    """``(format, boxes, crs)``: ``"voc"``, ``"dota"``, ``"labelme"``, ``"geojson"``, ``"mask"`` (an instance mask PNG,
    :mod:`sitewatch.masklabels`) or ``"empty"`` (a blank file) with one image's boxes, ``"coco"`` and ``"xview"`` with boxes per
    image (:class:`CocoBoxes`), ``"yolo"`` with :class:`YoloLabels`; ``crs`` the GeoJSON's ``crs``
    member (None for the others and for WGS84 GeoJSON). ``classes`` are compared as
    :func:`class_key_of` does; the class of every labelled object, wanted or not, is added to ``seen``."""
    wanted = {class_key_of(c) for c in classes}
    seen = set() if seen is None else seen
    suffix = path.suffix.lower()
    if suffix == ".png":
        from .masklabels import read_instance_mask

        return "mask", read_instance_mask(path), None  # no classes: --class does not filter it
    try:
        blank = path.stat().st_size < 4096 and not path.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"{path}: not readable ({exc})") from exc
    if blank and suffix in LABEL_SUFFIXES:
        return "empty", [], None  # an image without objects, as the missing-label message suggests
    if suffix == ".xml":
        return "voc", _voc(path, wanted, seen), None
    if suffix == ".txt":
        txt = _dota(path, wanted, seen)
        return ("yolo" if isinstance(txt, YoloLabels) else "dota"), txt, None
    if suffix not in (".json", ".geojson"):
        raise InputError(f"{path}: labels must be Pascal VOC .xml, COCO or LabelMe .json, DOTA or YOLO .txt, GeoJSON or an instance mask .png")
    data = read_json(path)
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        return "coco", _coco(path, data, wanted, seen), None
    if isinstance(data, dict) and "shapes" in data and ("imagePath" in data or "version" in data):
        return "labelme", _labelme(path, data, wanted, seen), None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        if is_detect_image_output(data):
            raise InputError(f"{path}: a detect-image output, not labels (pass the label file or folder as LABELS)")
        if is_xview(data):
            return "xview", _xview(path, data, wanted, class_key, seen), None
        return "geojson", _geojson_boxes(path, data, wanted, class_key, seen), crs_name(data, str(path))
    raise InputError(f"{path}: neither COCO (images, annotations), LabelMe (shapes, imagePath) nor a GeoJSON FeatureCollection")
