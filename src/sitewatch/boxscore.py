"""Score ``detect-image`` output against labelled boxes, so anyone can measure the detector on
imagery sitewatch never saw.

The rule is the one the benchmarks use (``benchmarks/sar_real.py``, ``optical_sen2ships.py``):
one-to-one matching per image, a detection counts when its centroid falls inside a labelled
box (or rotated box, or polygon), detections taken best score first, each matched to the free
box whose centre is nearest. Objects the dataset flags difficult are neither missed nor
false alarms (VOC's and DOTA's rule). The label formats, and the coordinates each is read in,
are those of :mod:`sitewatch.boxlabels`; GeoJSON labels in another CRS than the detections
(compared as CRSs, however the ``crs`` member spells it; labels without one are WGS84, or
pixel coordinates when the detections are in pixels) are carried into it through the image's
grid the detections record, and YOLO's fractions are turned into pixels by its size.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .boxlabels import (
    LABEL_SUFFIXES,
    Box,
    CocoBoxes,
    Point,
    YoloLabels,
    class_key_of,
    crs_name,
    file_stem,
    geojson_features,
    is_detect_image_output,
    looks_like_dota,
    read_json,
    read_labels,
)
from .errors import InputError
from .masklabels import is_instance_mask_name, mask_image_stem

__all__ = [
    "Box", "Counts", "Detected", "average_precision", "image_size", "length_summary", "match_boxes", "matching_rule", "pair_files", "read_detections", "read_labels", "score_files",
    "image_name", "unscored_labels",
]  # fmt: skip


def matching_rule(difficult: Literal["ignore", "count"] = "ignore") -> str:
    """The matching rule in words, as ``score --json`` and ``--csv`` state it beside their figures."""
    return (
        "one-to-one per image: detections taken in order of score, best first, each matched to the unmatched "
        "labelled object that holds its centroid and whose centre is nearest; a label holds the points inside it "
        "or on its edge, measured from the image's top-left corner (a VOC bndbox its pixels xmin..xmax inclusive, a "
        "COCO bbox x..x+width, a mask its pixels' extent, a rotated box or polygon its outline); a detection "
        "matched to none is a false positive, an object left unmatched a miss; "
        + ("objects flagged difficult are neither missed nor, when detected, a true or false positive" if difficult == "ignore"
           else "objects flagged difficult are counted as any other")
    )


@dataclass(frozen=True)
class Detected:
    """One detection as scored: its centroid in the coordinates compared, and its score."""

    x: float
    y: float
    score: float
    length_m: float | None = None
    """The detection's length (``length_m``), compared with a matched label's oriented length."""


@dataclass
class Counts:
    """True positives, false positives and misses, summed over images."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    images: int = 0
    per_image: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    length_errors: list[float] = field(default_factory=list)
    """Detected minus labelled length (m) of each true positive whose label gives a length (a rotated
    box, a polygon or a mask; not an axis-aligned box) in units known as metres."""
    per_image_lengths: dict[str, list[float]] = field(default_factory=dict)
    """Each image's share of :attr:`length_errors`."""
    per_image_files: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    """Each image's (detections file, labels file)."""
    per_image_detector: dict[str, str] = field(default_factory=dict)
    """Each image's detector and its version, as its detections file names them (``sar-cfar 1.13.0``)."""
    outcomes: list[tuple[float, bool]] = field(default_factory=list)
    """Each counted detection's (score, true positive), of every image, for :attr:`average_precision`."""
    warnings: list[str] = field(default_factory=list)
    """Labels that disagree with the detections' image (another size, another pixel size, labels wholly off it), each said once."""
    off_image: dict[str, int] = field(default_factory=dict)
    """Each image's labels that lie wholly off it (a chip's labels cut from a bigger scene's), left out of the counts:
    no detection in the image could be on them, and as misses they would lower the recall of every detector alike."""
    no_area: dict[str, int] = field(default_factory=dict)
    """Each image's labels of no area (an xView feature whose ``bounds_imcoords`` is empty or of zero width or height),
    left out of the counts: no detection could fall inside one."""

    def add(self, name: str, t: tuple[int, int, int], files: tuple[Path, Path] | None = None) -> None:
        """Add one image's ``(tp, fp, fn)`` to the sums and record it under ``name`` (with ``files``,
        its detections and labels files)."""
        self.tp, self.fp, self.fn, self.images = self.tp + t[0], self.fp + t[1], self.fn + t[2], self.images + 1
        self.per_image[name] = t
        if files is not None:
            self.per_image_files[name] = files

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp) (None: no detection counted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """tp / (tp + fn) (None: no box counted)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall, 2tp / (2tp + fp + fn) (None: nothing counted)."""
        n = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / n if n else None

    @property
    def average_precision(self) -> float | None:
        """:func:`average_precision` over every image's detections (None: no object to find)."""
        return average_precision(self.outcomes, self.tp + self.fn)

    def length_summary(self) -> dict[str, float | int] | None:
        """``n``, ``median`` (detected minus labelled, m), ``median_abs`` and ``mean_abs`` (m) of the
        length errors, as ``benchmarks/optical_sen2ships.py`` summarises them; None without any."""
        return length_summary(self.length_errors)

    def image_rows(self) -> list[dict[str, Any]]:
        """One row per image scored, in the order scored: ``image``, ``detections`` and ``labels`` (the
        files), ``detector`` (its name and version), ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1`` (None where undefined),
        ``length_error_m`` (:func:`length_summary` of its matched objects' length errors), ``off_image_labels``
        (:attr:`off_image`) and ``no_area_labels`` (:attr:`no_area`)."""
        rows = []
        for name, (tp, fp, fn) in self.per_image.items():
            det, lab = self.per_image_files.get(name, (None, None))
            rows.append({
                "image": name, "detections": None if det is None else str(det), "labels": None if lab is None else str(lab),
                "detector": self.per_image_detector.get(name),
                "tp": tp, "fp": fp, "fn": fn,
                "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
                "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
                "length_error_m": length_summary(self.per_image_lengths.get(name, [])),
                "off_image_labels": self.off_image.get(name, 0),
                "no_area_labels": self.no_area.get(name, 0),
            })  # fmt: skip
        return rows


def length_summary(errors: Sequence[float]) -> dict[str, float | int] | None:
    """``n``, ``median``, ``median_abs`` and ``mean_abs`` of length errors (m); None without any."""
    if not errors:
        return None
    e = sorted(errors)
    a = sorted(abs(v) for v in e)
    return {"n": len(e), "median": _median(e), "median_abs": _median(a), "mean_abs": sum(a) / len(a)}


def _median(v: list[float]) -> float:
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def match_boxes(
    dets: Sequence[Detected], boxes: Sequence[Box], matched: list[tuple[int, int]] | None = None,
    outcomes: list[tuple[float, bool]] | None = None,
) -> tuple[int, int, int]:
    """``(tp, fp, fn)``: best score first, each detection to the free box holding its centroid
    whose centre is nearest. A detection no free box holds but a difficult one does is left out
    (neither true nor false, as VOC and DOTA score), and a difficult box left free is no miss.
    ``matched`` (a list) receives each true positive's (detection index, box index), ``outcomes``
    each counted detection's (score, true positive) in that order."""
    used = [False] * len(boxes)
    tp = ignored = 0
    for j, d in sorted(enumerate(dets), key=lambda jd: -jd[1].score):
        best, bestd = -1, math.inf
        for i, b in enumerate(boxes):
            if used[i] or b.difficult or not b.holds(d.x, d.y):
                continue
            dist = (d.x - (b.x0 + b.x1) / 2) ** 2 + (d.y - (b.y0 + b.y1) / 2) ** 2
            if dist < bestd:
                best, bestd = i, dist
        if best >= 0:
            used[best] = True
            tp += 1
            if matched is not None:
                matched.append((j, best))
        elif any(b.difficult and b.holds(d.x, d.y) for b in boxes):
            ignored += 1
            continue
        if outcomes is not None:
            outcomes.append((d.score, best >= 0))
    return tp, len(dets) - tp - ignored, sum(not b.difficult for b in boxes) - tp


def average_precision(outcomes: Sequence[tuple[float, bool]], positives: int) -> float | None:
    """The area under the precision-recall curve swept over every score threshold, precision interpolated
    as VOC (2010 on) and COCO do: at each recall the best precision at that recall or above. ``outcomes``:
    each counted detection's (score, true positive), of every image; ``positives``: the objects to find.
    Greedy best-first matching makes each threshold's matches the first of the full run's, so one run
    gives every point. None without objects to find."""
    if positives <= 0:
        return None
    ranked = sorted(outcomes, key=lambda o: -o[0])  # stable: ties keep the order they were matched in
    points, tp = [], 0
    for k, (_, hit) in enumerate(ranked, 1):
        tp += hit
        points.append((tp / positives, tp / k))
    ap, best = 0.0, 0.0
    # From the highest recall down, the precision envelope; add each step in recall under it.
    for idx in range(len(points) - 1, -1, -1):
        recall, precision = points[idx]
        best = max(best, precision)
        below = points[idx - 1][0] if idx > 0 else 0.0
        ap += (recall - below) * best
    return ap


def _json_or_none(path: Path) -> Any:
    try:
        return read_json(path)
    except InputError:
        return None


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
    fc = read_json(path)
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
        raise InputError(f"{path}: not a GeoJSON FeatureCollection (a `sitewatch detect-image --out` file)")
    if not is_detect_image_output(fc):
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
    from shapely.errors import ShapelyError
    from shapely.geometry import shape

    fc = _detections_json(path) if fc is None else fc
    wanted = set(kinds)
    pixel, geo = [], []
    place = _centroid_place(fc)
    for i, f, p in geojson_features(path, fc):
        kind = p.get("kind", "vessel")
        if not isinstance(kind, str):
            raise InputError(f"{path}: feature {i} has kind {kind!r}, which is no text (detect-image writes vessel, crane...)")
        if kind not in wanted:
            continue
        score = _score(path, i, p.get("score"), min_score)
        if score < min_score:
            continue
        try:
            col, row = float(p["col"]), float(p["row"])
            if place is None:
                c = shape(f["geometry"]).centroid
                cx, cy = float(c.x), float(c.y)
            else:
                cx, cy = place(col, row)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError, ShapelyError) as exc:
            raise InputError(f"{path}: feature {i} lacks what detect-image writes (row, col, geometry): {exc}") from exc
        if not all(map(math.isfinite, (col, row))):
            raise InputError(f"{path}: feature {i} has a row or col that is not a number ({p['row']}, {p['col']})")
        if not (math.isfinite(cx) and math.isfinite(cy)):
            raise InputError(f"{path}: feature {i} lies nowhere through the file's transform ({_meta_transform(fc)})")
        length = _finite(p.get("length_m"))
        pixel.append(Detected(col, row, score, length))
        geo.append(Detected(cx, cy, score, length))
    return pixel, geo, crs_name(fc, str(path))


def _meta_transform(fc: dict[str, Any]) -> str:
    """A detections file's ``sitewatch.transform`` as text, cut short, for an error message."""
    meta = fc.get("sitewatch")
    return json.dumps(meta.get("transform") if isinstance(meta, dict) else None)[:80]


def _centroid_place(fc: dict[str, Any]) -> Callable[[float, float], tuple[float, float]] | None:
    """Where a detection's centroid (``col``, ``row``) lies in the coordinates of its geometry, so that
    GeoJSON labels are scored at the point pixel labels are: itself in pixel coordinates, through the
    image's transform (``sitewatch.transform``) in a CRS. None for a file that records neither (written by
    an older sitewatch): its boxes' centres are taken, which an optical detector's box may hold off its centroid."""
    member = fc.get("sitewatch")
    meta: dict[str, Any] = member if isinstance(member, dict) else {}
    coords = meta.get("coordinates")
    if isinstance(coords, str) and coords.startswith("pixel"):
        return lambda col, row: (col, row)
    t = meta.get("transform")
    if not (isinstance(t, list) and len(t) == 6 and all(_finite(v) is not None for v in t)):
        return None
    a, b, c, d, e, f = (float(v) for v in t)
    # Pixel centres at integers; the transform maps pixel corners.
    return lambda col, row: (a * (col + 0.5) + b * (row + 0.5) + c, d * (col + 0.5) + e * (row + 0.5) + f)


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else (NaN, text, a whole number of 400 digits)."""
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _score(path: Path, i: int, value: Any, min_score: float) -> float:
    """A detection's score; one without (absent or null) ranks first, as a certain one, unless
    ``min_score`` asks for scores to compare."""
    if value is None:
        if min_score > 0:
            raise InputError(f"{path}: feature {i} has no score, so --min-score cannot judge it")
        return 1.0
    try:
        score = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a whole number of 400 digits
        score = math.nan
    if not math.isfinite(score):
        raise InputError(f"{path}: feature {i} has a score that is not a number ({value!r})")
    return score


def image_name(det_path: Path) -> str:
    """The name (stem) of the image a detections file is of, as labels are paired with it."""
    return _image_stem(det_path)


def _source(det_path: Path, fc: Any = None) -> str | None:
    """A detections file's ``sitewatch.source`` (the image's path as detect-image was given it),
    when it names one file; ``fc``: the file already read."""
    try:
        source = (read_json(det_path) if fc is None else fc).get("sitewatch", {}).get("source")
    except (InputError, AttributeError):
        source = None
    return source if isinstance(source, str) and source else None


def _posix(name: str) -> str:
    """A path written on any system, with ``/`` and without a leading ``./`` or ``/``."""
    name = name.replace("\\", "/")
    while name.startswith(("./", "/")):
        name = name[1:] if name.startswith("/") else name[2:]
    return name


def _image_stem(det_path: Path, fc: Any = None) -> str:
    """The image a detections file belongs to: its ``sitewatch.source`` member's stem, else its
    own; ``fc``: the file already read."""
    source = _source(det_path, fc)
    return file_stem(source) if source else det_path.stem


def _coco_image(label_path: Path, labels: CocoBoxes, det_path: Path, fc: Any = None) -> str:
    """The key in ``labels`` of the COCO image a detections file is of: named after its source,
    else after itself, in any case; images sharing a name are told apart by the source's folders."""
    stem, source = _image_stem(det_path, fc), _source(det_path, fc)
    shared = {k.casefold(): (k, v) for k, v in labels.shared.items()}  # seldom more than a few
    for name in (stem, det_path.stem):
        if name.casefold() in shared:
            stem_key, files = shared[name.casefold()]
            path = "/" + _posix(source or "").casefold()
            hits = [f for f in files if path.endswith("/" + _posix(f).casefold())]
            if len(hits) == 1:
                return hits[0].replace("\\", "/")
            raise InputError(
                f"{label_path}: {len(files)} images are named {stem_key!r} ({', '.join(files[:5])}), "
                f"and the source of {det_path.name} ({source or 'none'}) does not tell which it is: "
                "run detect-image on the image by its path as the COCO file has it, or split the COCO file"
            )
        key = name if name in labels else labels.folded.get(name.casefold())
        if key is not None:
            return key
    whose = f"the name of {det_path.name}" if stem == det_path.stem else f"the source of {det_path.name}"
    some = ", ".join(sorted(labels)[:5]) + (" …" if len(labels) > 5 else "")
    raise InputError(
        f"{label_path}: no image named {stem!r} ({whose}); {labels.found_by} ({some}): name the detections file after its image, or, when its image is not labelled in "
        f"this file (a split the file does not cover), take {det_path.name} out of DETECTIONS"
    )


def score_files(
    pairs: Sequence[tuple[Path, Path]], *, classes: Iterable[str] = (), kinds: Iterable[str] = ("vessel",),
    min_score: float = 0.0, class_key: str = "class", difficult: Literal["ignore", "count"] = "ignore",
    unreadable: list[tuple[Path, str]] | None = None,
) -> Counts:
    """Counts over ``(detections, labels)`` pairs (a COCO file may serve many detections files).

    ``classes`` are compared in any case (``Ship`` is ``ship``), and with a COCO file's category
    ids when its categories have no names; ``difficult="count"`` scores objects flagged difficult
    as any other. With ``unreadable`` (a list), a detections file that cannot be read as
    detect-image's output is appended to it with the reason and left out, the others scored;
    without it that is an :class:`InputError`."""
    counts = Counts()
    wanted, seen = {class_key_of(c) for c in classes}, set[str]()
    users = Counter(lp for _, lp in pairs)
    scored: dict[tuple[Path, str], Path] = {}  # (labels, image) → the detections file scored as it
    cache: dict[Path, tuple[str, dict[str, list[Box]] | list[Box] | YoloLabels, str | None]] = {}
    sharers = {lp: {_image_stem(d) for d, q in pairs if q == lp} for lp, n in users.items() if n > 1}
    for det_path, label_path in pairs:
        if label_path not in cache:
            cache[label_path] = read_labels(label_path, wanted, class_key, seen)
        fmt, labels, label_crs = cache[label_path]
        try:
            fc = _detections_json(det_path)  # read once, for its image's name and its detections
            if unreadable is not None:
                read_detections(det_path, kinds, min_score, fc)
        except InputError as exc:
            if unreadable is None:
                raise
            unreadable.append((det_path, str(exc)))
            continue
        if isinstance(labels, CocoBoxes):  # COCO's or xView's: many images in one file
            image = _coco_image(label_path, labels, det_path, fc)
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
        if isinstance(labels, YoloLabels):
            size = image_size(fc)
            if size is None:
                raise InputError(
                    f"{label_path}: YOLO labels are fractions of the image's size, which {det_path} does not record "
                    "(written by an older sitewatch): run detect-image on the image again"
                )
            boxes = labels.boxes(*size)
        else:
            boxes = labels[image] if isinstance(labels, dict) else labels
        counts.warnings += _label_warnings(label_path, det_path, fc, labels, image)
        if isinstance(labels, CocoBoxes) and (no_area := labels.no_area.get(image)):
            counts.no_area[det_path.stem] = len(no_area)
            counts.warnings += [f"{label_path.name}: {why}, in image {image!r}: left out of the counts" for why in no_area]
        if difficult == "count":
            boxes = [dataclasses.replace(b, difficult=False) for b in boxes]
        if fmt == "geojson" and not _same_crs(label_crs, det_crs):
            boxes = _reprojected(label_path, det_path, boxes, label_crs, det_crs, _footprint(fc))
        pixels = fmt != "geojson" or (det_crs is not None and det_crs.startswith('LOCAL_CS["pixel"'))
        extent = _image_extent(fc, labels, image) if pixels else _footprint(fc)
        if extent is not None and (off := sum(_off_image(b, extent) for b in boxes)):
            boxes = [b for b in boxes if not _off_image(b, extent)]
            counts.off_image[det_path.stem] = off
            counts.warnings.append(
                f"{label_path.name}: {off} label(s) of image {image!r} lie wholly off the image {det_path.name} was "
                "detected on (the labels of a bigger scene, or of another image): left out of the counts, not misses"
            )
        if fmt == "geojson":
            if det_crs is not None and det_crs.startswith('LOCAL_CS["pixel"') and boxes and all(b.y1 <= 0 for b in boxes):
                raise InputError(
                    f"{label_path}: every box lies at y < 0, above the image: detect-image's pixel coordinates "
                    "run y = row downwards, while QGIS draws an image without georeference at y = -row "
                    "(flip the labels' y)"
                )
            matched: list[tuple[int, int]] = []
            counts.add(det_path.stem, match_boxes(geo, boxes, matched, counts.outcomes), (det_path, label_path))
            metres = _pixel_metres(fc) if det_crs is not None and det_crs.startswith('LOCAL_CS["pixel"') else _ground_metres(det_crs)
            errors = _length_errors(geo, boxes, matched, metres)
        else:
            matched = []
            counts.add(det_path.stem, match_boxes(pixel, boxes, matched, counts.outcomes), (det_path, label_path))
            errors = _length_errors(pixel, boxes, matched, _pixel_metres(fc))
        counts.length_errors += errors
        counts.per_image_lengths[det_path.stem] = errors
        counts.per_image_detector[det_path.stem] = _detector(fc)
    versions: dict[str, set[str]] = {}
    for d in counts.per_image_detector.values():
        versions.setdefault(d.rsplit(" ", 1)[0], set()).add(d)
    for name, seen_versions in versions.items():
        if len(seen_versions) > 1:
            # Figures of a detector pooled over its versions describe none of them.
            counts.warnings.append(f"the detections are of {len(seen_versions)} versions of {name} ({', '.join(sorted(seen_versions))}): run detect-image again on the older ones")
    if wanted and seen and not wanted & {class_key_of(c) for c in seen}:
        # Every box left out: the figures would read as if nothing had been labelled.
        where = pairs[0][1] if len({lp for _, lp in pairs}) == 1 else pairs[0][1].parent
        raise InputError(
            f"{where}: no labelled object of class {', '.join(map(repr, sorted(set(classes))))} "
            f"(classes found: {', '.join(sorted(seen))})"
        )
    return counts


REPROJECTED_EDGE_POINTS = 8
"""Points along each edge of a label reprojected into the detections' CRS: a box drawn in lon/lat is slightly
curved in UTM, and its corners alone would cut its sides short by up to a few centimetres a kilometre."""


def _footprint(fc: dict[str, Any]) -> list[Point] | None:
    """The corners of the detections' image in their CRS (``sitewatch.transform`` and ``image_size``); None
    when the file does not record both."""
    size, place = image_size(fc), _centroid_place(fc)
    if size is None or place is None:
        return None
    w, h = size
    # place() takes pixel-centre indices: the image's corners are half a pixel beyond its outer pixels'.
    return [place(-0.5, -0.5), place(w - 0.5, -0.5), place(w - 0.5, h - 0.5), place(-0.5, h - 0.5)]


def _image_extent(fc: dict[str, Any], labels: Any, image: str) -> list[Point] | None:
    """The corners of the detections' image in detect-image's pixel coordinates (pixel centres at whole numbers):
    its size as the detections record it, else as the label file states it; None when neither does."""
    size = image_size(fc) or (labels.sizes.get(image) if isinstance(labels, CocoBoxes) else getattr(labels, "size", None))
    if size is None:
        return None
    w, h = size
    return [(-0.5, -0.5), (w - 0.5, -0.5), (w - 0.5, h - 0.5), (-0.5, h - 0.5)]


def _off_image(box: Box, extent: list[Point]) -> bool:
    """Whether a label shares no area with the image whose corners (in the labels' coordinates) are ``extent``."""
    xs, ys = [p[0] for p in extent], [p[1] for p in extent]
    if box.x1 <= min(xs) or box.x0 >= max(xs) or box.y1 <= min(ys) or box.y0 >= max(ys):
        return True
    if box.x0 >= min(xs) and box.x1 <= max(xs) and box.y0 >= min(ys) and box.y1 <= max(ys) and len(set(xs)) == 2 == len(set(ys)):
        return False  # within an upright image: the common case, decided without geometry
    from shapely.geometry import Polygon
    from shapely.geometry import box as envelope

    shape = Polygon(box.outline) if len(box.outline) >= 3 else envelope(box.x0, box.y0, box.x1, box.y1)
    try:
        return not shape.buffer(0).intersection(Polygon(extent)).area > 0
    except ValueError:  # a footprint that is no polygon (the image's place not finite): no evidence it is off
        return False


def _reprojected(
    label_path: Path, det_path: Path, boxes: list[Box], label_crs: str | None, det_crs: str | None,
    footprint: list[Point] | None,
) -> list[Box]:
    """GeoJSON labels in another CRS than the detections (lon/lat labels, detections in the image's UTM zone),
    their outlines carried into the detections' CRS, each keeping the length measured in its own CRS.

    Only where the detections record their image's grid (``footprint``, its corners) and some label then lies
    on the image: labels whose ``crs`` member is wrong, or pixel coordinates without one (read as lon/lat),
    would otherwise be scored as all missed. Those, detections in pixel coordinates, and a CRS pyproj does not
    know are an :class:`InputError` naming both files."""
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError, ProjError
    from shapely.geometry import Polygon

    def refuse(why: str = "") -> InputError:
        return InputError(
            f"{label_path} and {det_path} are in different coordinates ({label_crs or 'WGS84'} against "
            f"{det_crs or 'WGS84'}){why}; reproject the labels (ogr2ogr -t_srs)"
        )

    if det_crs is not None and det_crs.startswith("LOCAL_CS["):
        raise refuse(": the image has no CRS to carry the labels into")
    if footprint is None:
        raise refuse(
            f", and {det_path.name} does not record its image's grid (written by an older sitewatch: run detect-image "
            "again, and labels in another CRS are carried into the image's)"
        )
    try:
        source, target = (CRS.from_user_input(c or "OGC:CRS84") for c in (label_crs, det_crs))
        to_det = Transformer.from_crs(source, target, always_xy=True)
    except (CRSError, ProjError) as exc:
        raise refuse(f", which cannot be converted ({exc})") from exc
    own_metres = _ground_metres(label_crs)
    out = []
    for b in boxes:
        corners = list(b.outline) or [(b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1)]
        ring = []
        for (xa, ya), (xb, yb) in zip(corners, corners[1:] + corners[:1], strict=True):
            ring += [(xa + (xb - xa) * k / REPROJECTED_EDGE_POINTS, ya + (yb - ya) * k / REPROJECTED_EDGE_POINTS) for k in range(REPROJECTED_EDGE_POINTS)]
        xs, ys = to_det.transform([x for x, _ in ring], [y for _, y in ring], errcheck=False)
        points = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
        if not all(math.isfinite(v) for pt in points for v in pt):
            raise refuse(f": a label at ({b.x0:g}, {b.y0:g}) lies outside what {det_crs} can place")
        length = None
        if b.length is not None and own_metres is not None and (scale := own_metres(b)) is not None:
            labelled = b.length(*scale)
            # Measured where it was drawn; whatever scale the detections' CRS is then asked for, this is it.
            length = None if labelled is None else (lambda _sx, _sy, m=labelled: m)
        out.append(dataclasses.replace(Box.around(points, b.difficult), length=length))
    image = Polygon(footprint)
    if out and not any(Polygon(b.outline).intersects(image) for b in out):
        raise InputError(
            f"{label_path}: none of its {len(out)} label(s) lies on the image of {det_path.name} once carried from "
            f"{label_crs or 'WGS84 lon/lat (it has no crs member)'} into {det_crs}: is its crs member right? (Labels "
            "drawn in pixels need no crs member only when the detections are in pixels too.)"
        )
    return out


GSD_TOLERANCE = 0.02
"""Pixel sizes of labels and detections this far apart (relative) are one: DOTA rounds nothing, but tools do."""


def _detector(fc: dict[str, Any]) -> str:
    """``detector detector_version`` of a detect-image output."""
    meta = fc.get("sitewatch")
    meta = meta if isinstance(meta, dict) else {}
    return " ".join(str(meta[k]) for k in ("detector", "detector_version") if meta.get(k) not in (None, ""))


def _label_warnings(label_path: Path, det_path: Path, fc: dict[str, Any], labels: Any, image: str) -> list[str]:
    """What the label file says of its image that the detections' image contradicts: its size in pixels (VOC
    ``<size>``, COCO ``width``/``height``, a mask's own), and DOTA's ``gsd``, against the pixel size the
    detections' lengths were measured in."""
    out = []
    size = image_size(fc)
    stated = labels.sizes.get(image) if isinstance(labels, CocoBoxes) else getattr(labels, "size", None)
    if size is not None and stated is not None and (abs(stated[0] - size[0]) > 0.5 or abs(stated[1] - size[1]) > 0.5):
        out.append(
            f"{label_path.name} labels {image!r} as {stated[0]:g} × {stated[1]:g} pixels, and {det_path.name} is of an "
            f"image of {size[0]} × {size[1]}: labels of another image, or of this one resized or cut, fall in the "
            "wrong places (run detect-image on the image the labels were drawn on)"
        )
    gsd, metres = getattr(labels, "gsd", None), _pixel_metres(fc)
    if gsd is not None and metres is not None:
        measured = (metres[0] + metres[1]) / 2
        if abs(measured - gsd) > GSD_TOLERANCE * gsd:
            out.append(
                f"{label_path.name} gives gsd {gsd:g} m, and {det_path.name} was measured at {measured:g} m a pixel: its "
                f"lengths in metres, detected and labelled, are {measured / gsd:.3g} times the ground's (run detect-image "
                f"with --pixel-size {gsd:g})"
            )
    return out


def image_size(fc: dict[str, Any]) -> tuple[int, int] | None:
    """The detections' image's width and height in pixels (``sitewatch.image_size``); None when not recorded."""
    meta = fc.get("sitewatch")
    size = meta.get("image_size") if isinstance(meta, dict) else None
    # Bounded: a side of 400 digits (a damaged file) would overflow a float in the boxes made of it.
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31 for v in size):
        return size[0], size[1]
    return None


def _pixel_metres(fc: dict[str, Any]) -> tuple[float, float] | None:
    """Metres in a pixel of the detections' image along x and y (``sitewatch.pixel_size_m``)."""
    try:
        px, py = (float(v) for v in fc["sitewatch"]["pixel_size_m"])
    except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: a whole number of 400 digits
        return None
    return (px, py) if px > 0 and py > 0 and math.isfinite(px + py) else None


def _ground_metres(crs: str | None) -> Callable[[Box], tuple[float, float] | None] | None:
    """Ground metres in a unit of GeoJSON labels' coordinates along x and y, at each label's centre:
    for a projected CRS in metres, its metres over the projection's scale there (Web Mercator's are
    1/cos(latitude) of the ground's: 1.4 at 44°, sen2ships' Genoa, whose labels were measured 40 % longer
    than the ships detect-image measures on the ground); for lon/lat (``crs`` None, WGS84, as RFC 7946
    has it), a degree's metres along the parallel and the meridian there. None for any other CRS."""
    from pyproj import CRS, Proj, Transformer
    from pyproj.exceptions import CRSError

    try:
        c = CRS.from_user_input(crs or "OGC:CRS84")
    except CRSError:
        return None
    if c.is_geographic and all(a.unit_name == "degree" for a in c.axis_info):
        geod = c.get_geod()
        if geod is None:
            return None

        def in_degrees(box: Box) -> tuple[float, float] | None:
            # GeoJSON is lon, lat (x, y) whatever the CRS's own axis order.
            lon, lat, d = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, 1e-4
            if not (-90 + d <= lat <= 90 - d):
                return None
            mx = float(geod.inv(lon - d, lat, lon + d, lat)[2]) / (2 * d)
            my = float(geod.inv(lon, lat - d, lon, lat + d)[2]) / (2 * d)
            return (mx, my) if mx > 0 and my > 0 else None

        return in_degrees
    if not (c.is_projected and all(a.unit_name in ("metre", "meter") for a in c.axis_info)):
        return None
    proj, to_lonlat = Proj(c), Transformer.from_crs(c, c.geodetic_crs or "EPSG:4326", always_xy=True)

    def projected(box: Box) -> tuple[float, float] | None:
        lon, lat = to_lonlat.transform((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
        factors = proj.get_factors(lon, lat)
        kx, ky = float(factors.parallel_scale), float(factors.meridional_scale)
        return (1 / kx, 1 / ky) if kx > 0 and ky > 0 and math.isfinite(kx + ky) else None

    return projected


def _length_errors(
    dets: Sequence[Detected], boxes: Sequence[Box], matched: list[tuple[int, int]],
    metres: tuple[float, float] | Callable[[Box], tuple[float, float] | None] | None,
) -> list[float]:
    """Detected minus labelled length of each matched pair whose label gives a length (:attr:`Box.length`),
    ``metres`` the size in ground metres of a unit of the labels' coordinates along x and y, or a function
    giving it at a label (None: unknown, no length)."""
    errors: list[float] = []
    if metres is None:
        return errors
    for j, i in matched:
        detected, measure = dets[j].length_m, boxes[i].length
        scale = metres(boxes[i]) if callable(metres) else metres
        labelled = measure(*scale) if measure is not None and scale is not None else None
        if detected is not None and labelled is not None:
            errors.append(detected - labelled)
    return errors


def _is_label_file(p: Path, any_text: bool = False) -> bool:
    """A file of a labels folder that is labels: not detect-image's output written next to the
    chips, nor (unless ``any_text``: a ``.txt`` named after an image is read, and a YOLO one
    refused by name) a ``classes.txt`` or read-me."""
    suffix = p.suffix.lower()
    if is_instance_mask_name(p):
        return p.is_file()  # HRSID's NAME_instance_id_RGB.png; the folder's other PNGs are chips
    if suffix not in LABEL_SUFFIXES or not p.is_file():
        return False
    if suffix == ".txt":
        return any_text or looks_like_dota(p)
    return suffix == ".xml" or not is_detect_image_output(_json_or_none(p))


def unscored_labels(labels: Path, pairs: Sequence[tuple[Path, Path]]) -> list[Path]:
    """Label files in the folder ``labels`` that no detections file was paired with (none when
    ``labels`` is a file): an image detect-image failed on, or was never run on."""
    if not labels.is_dir():
        return []
    used = {p.resolve() for pair in pairs for p in pair}
    return [p for p in sorted(labels.iterdir()) if p.resolve() not in used and _is_label_file(p)]


def unscored_coco_images(labels: Path, pairs: Sequence[tuple[Path, Path]]) -> list[str]:
    """Images of the COCO or xView file ``labels`` that no detections file went with (none for other labels)."""
    if not labels.is_file() or labels.suffix.lower() not in (".json", ".geojson"):
        return []
    _, boxes, _ = read_labels(labels)
    if not isinstance(boxes, CocoBoxes):
        return []
    used = {_coco_image(labels, boxes, d) for d, _ in pairs}
    return sorted(set(boxes) - used)


def _detections_suffix(path: Path) -> bool:
    """A detections file in a folder: any ``.geojson``, or a ``.json`` detect-image wrote (``--out x.json``)."""
    suffix = path.suffix.lower()
    return suffix == ".geojson" or (suffix == ".json" and is_detect_image_output(_json_or_none(path)))


def _paired_stem(det_path: Path, in_folder: bool) -> str:
    """The image a detections file is paired by; in a folder, an unreadable file goes by its own
    name (:func:`score_files` then names it and leaves it out), alone it is an error."""
    try:
        return _image_stem(det_path, _detections_json(det_path))
    except InputError:
        if not in_folder:
            raise
        return det_path.stem


def pair_files(detections: Path, labels: Path) -> list[tuple[Path, Path]]:
    """``(detections file, labels file)`` pairs from two files or folders.

    A folder of detections goes with one COCO file, or with a folder of labels in which each
    detections file finds the label file named after its image (``sitewatch.source``) or after
    itself (in any case), with a ``.xml``, ``.json``, ``.geojson`` or ``.txt`` suffix; a blank
    label file stands for an image without objects. Two label files of one image (``a.xml`` and
    ``a.txt``) are an error, not a choice.
    """
    dets = sorted(p for p in detections.iterdir() if p.is_file() and _detections_suffix(p)) if detections.is_dir() else [detections]
    if not dets:
        held = sorted({q.parent.relative_to(detections).as_posix() for q in detections.rglob("*.geojson")}) if detections.is_dir() else []
        hint = f"; {', '.join(f'{h}/' for h in held[:5])} hold(s) .geojson files, and DETECTIONS is read without its subfolders: score each" if held else ""
        raise InputError(f"{detections}: no detections in this folder (.geojson, or .json written by detect-image){hint}")
    stems = {d: _paired_stem(d, detections.is_dir()) for d in dets}  # each read once: checked, and named
    if not labels.is_dir():
        return [(d, labels) for d in dets]
    by_stem: dict[str, list[Path]] = {}
    by_lower: dict[str, list[Path]] = {}  # labels named CHIP.XML for chip.jpg, as case-blind file systems allow
    det_files = {d.resolve() for d in dets}
    for p in sorted(labels.iterdir()):
        # detect-image --out written next to the chips must not stand in for their labels
        if p.resolve() not in det_files and _is_label_file(p, any_text=True):
            by_stem.setdefault(mask_image_stem(p), []).append(p)
            by_lower.setdefault(mask_image_stem(p).lower(), []).append(p)
    pairs, missing = [], []
    for d in dets:
        names = (stems[d], d.stem)
        found = next((by_stem[s] for s in names if s in by_stem), None) or next(
            (by_lower[s.lower()] for s in names if s.lower() in by_lower), None
        )
        if found is None:
            missing.append(d.name)
        elif len(found) > 1:
            raise InputError(
                f"{labels}: {' and '.join(p.name for p in found)} are both labels of image {mask_image_stem(found[0])!r} "
                f"({d.name}): keep one"
            )
        else:
            pairs.append((d, found[0]))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"{labels}: no label file for {', '.join(missing[:5])}{more} (looked for the image's name "
            f"with {', '.join(LABEL_SUFFIXES)}, or NAME_instance_id_RGB.png){_in_subfolders(labels, [stems[d] for d in dets])}; "
            "an image without ships needs an empty label file"
        )
    return pairs


def _in_subfolders(labels: Path, stems: list[str]) -> str:
    """A hint when the label files wanted lie in subfolders (``labels/train/a.xml``), which are not searched."""
    wanted = {s.lower() for s in stems}
    for p in labels.rglob("*"):
        if p.parent != labels and p.stem.lower() in wanted and p.suffix.lower() in LABEL_SUFFIXES:
            return f"; {p.relative_to(labels)} is in a subfolder, and LABELS is read without its subfolders: pass that folder"
    return ""
