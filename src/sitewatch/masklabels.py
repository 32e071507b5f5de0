"""Instance masks as labels for ``sitewatch score``: a PNG in which every object is painted in a
colour of its own on black, as HRSID's ``NAME_instance_id_RGB.png`` and the CVAT exports of
sen2ships (``…_binary_masks/SegmentationObject/*.png``) are.

Each colour is one object, boxed by its pixels' extent (inclusive pixel indices, as a VOC
``<bndbox>``): on sen2ships these are exactly the COCO file's bboxes. A class mask, one colour for
every object (``SegmentationClass/``, HRSID's ``_instance_color_RGB``), cannot tell touching
objects apart and is refused when its one colour falls in pieces.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from .boxlabels import Box, LabelBoxes, mask_length
from .errors import InputError

__all__ = ["INSTANCE_MASK_TAIL", "is_instance_mask_name", "mask_image_stem", "read_instance_mask"]

MASK_SUFFIXES = (".png",)
INSTANCE_MASK_TAIL = "_instance_id_rgb"
"""HRSID's mask of image NAME is ``NAME_instance_id_RGB.png``: in a labels folder, it is NAME's labels."""
MAX_OBJECTS = 65_536
"""More colours than this is a photograph or a rendering given as labels, not a mask."""


def is_instance_mask_name(path: Path) -> bool:
    """A file a labels folder holds as an image's instance mask (``NAME_instance_id_RGB.png``, any case):
    the folder's other PNGs are chips or class masks."""
    return path.suffix.lower() in MASK_SUFFIXES and path.stem.lower().endswith(INSTANCE_MASK_TAIL)


def mask_image_stem(path: Path) -> str:
    """The name of the image an instance mask labels: its stem without HRSID's tail."""
    stem = path.stem
    return stem[: -len(INSTANCE_MASK_TAIL)] if stem.lower().endswith(INSTANCE_MASK_TAIL) else stem


def read_instance_mask(path: Path) -> LabelBoxes:
    """One box per colour of the mask other than black (or fully transparent); in a grey or 16-bit
    mask, one per grey level other than 0."""
    from PIL import Image, UnidentifiedImageError
    from scipy import ndimage

    try:
        with Image.open(path) as im:
            if im.mode in ("L", "I", "I;16", "I;16B", "I;16L"):
                code = np.asarray(im)  # grey levels as ids, in the mask's own type: a 16-bit mask keeps them all
            else:
                rgba = np.asarray(im.convert("RGBA"))
                code = _rgb_code(rgba)
                del rgba
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        # PIL raises SyntaxError for a chunk it cannot read ("broken PNG file") and ValueError for a truncated header.
        raise InputError(f"{path}: not a readable PNG mask ({exc})") from exc
    colours = np.unique(code)  # (no inverse: its 8 B a pixel, and the sort's, were a large mask's peak)
    objects = [int(c) for c in colours if c != 0]
    if len(objects) > MAX_OBJECTS:
        raise InputError(f"{path}: {len(colours):,} colours, not an instance mask (one colour per object on black)")
    if len(objects) == 1 and ndimage.label(code != 0)[1] > 1:
        raise InputError(
            f"{path}: one colour for several separate objects, a class mask; give the instance mask, "
            "one colour per object (SegmentationObject/, NAME_instance_id_RGB.png)"
        )
    labels = _labels(code, colours)  # black is 0, each colour its own label
    boxes = LabelBoxes()
    boxes.size = (float(code.shape[1]), float(code.shape[0]))  # a mask is drawn on its image's grid
    for k, window in enumerate(ndimage.find_objects(labels), 1):
        if window is not None:
            rows, cols = window
            length = partial(mask_length, labels[window] == k)  # the mask's oriented length, for `score`'s length error
            boxes.append(Box(cols.start - 0.5, rows.start - 0.5, cols.stop - 0.5, rows.stop - 0.5, length=length))
    return boxes


def _rgb_code(rgba: np.ndarray) -> np.ndarray:
    """Each pixel's colour as one 24-bit number (uint32), 0 where it is fully transparent."""
    code = rgba[..., 0].astype(np.uint32) << 16
    code |= rgba[..., 1].astype(np.uint32) << 8
    code |= rgba[..., 2]
    code[rgba[..., 3] == 0] = 0
    return code


LABEL_ROWS = 1024
"""Rows of a mask given their labels at a time (``searchsorted`` answers in 8-byte indices)."""


def _labels(code: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Each pixel's label (int32): 0 on black, else 1 + its colour's place among the colours other than black."""
    labels = np.empty(code.shape, np.int32)
    shift = 0 if colours[0] == 0 else 1
    for r in range(0, code.shape[0], LABEL_ROWS):
        labels[r : r + LABEL_ROWS] = np.searchsorted(colours, code[r : r + LABEL_ROWS]) + shift
    return labels
