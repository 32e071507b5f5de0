"""The same 8-bit SAR chips stored other ways: does ``sitewatch detect-image`` find the same ships?

    python benchmarks/sar_encodings.py [--datasets DIR] [--work DIR] [--verbose]

A withheld set "of the same kinds" as the SAR-Ship-Dataset and HRSID samples may come encoded
otherwise than ours: a converter that writes 16-bit PNG multiplies 8-bit values by 257 (or shifts
them by 8 bits, × 256), a GIS exports float32 GeoTIFF holding 0-255 or 0-1, a grey chip comes as
RGB or RGBA, a JPEG as grey or colour, a suffix in upper case. Each chip's 8-bit rendering (as
``detect-image`` reads the stored chip) is written every such way into ``--work`` (a temporary
folder by default: never into the repository), each file is run through
:func:`sitewatch.detect.inputs.detect_image_file` at ``sar_real.py``'s nominal pixel size
(SAR-Ship-Dataset 5 m, HRSID 1 m) and scored with ``sitewatch score``'s rule
(:func:`sar_real.match_boxes`). Printed per encoding: TP / FP / FN, F1 and its difference from the
stored chips', and how many chips' detections differ from the stored chips' (row, col, score to
0.01 px / 0.001). The JPEG rows re-compress (lossy, quality 95): small differences there are the
picture's, not the reading's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rasterio.errors import NotGeoreferencedWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sar_real import (  # noqa: E402
    BOX_CHIPS,
    DEFAULT_DATASETS,
    Counts,
    _images,
    hrsid_chips,
    match_boxes,
    missing_datasets,
    ssdd_chips,
)
from sitewatch.detect.inputs import detect_image_file  # noqa: E402

NOMINAL_PIXEL_M = {BOX_CHIPS[0]: 5.0, BOX_CHIPS[1]: 1.0}
"""``sar_real.py``'s nominal pixel sizes of the two datasets."""


def _write_gdal(path: Path, bands: np.ndarray, driver: str, **options: object) -> Path:
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            path, "w", driver=driver, width=bands.shape[2], height=bands.shape[1], count=bands.shape[0], dtype=bands.dtype.name, **options
        ) as dst:
            dst.write(bands)
    return path


def _pil(path: Path, grey: np.ndarray, mode: str, **options: object) -> Path:
    from PIL import Image

    img = Image.fromarray(grey, "L")
    (img if mode == "L" else img.convert(mode)).save(path, **options)
    return path


Encoder = Callable[[Path, np.ndarray], Path]
"""(folder and stem, 8-bit grey chip) -> the file written."""

ENCODINGS: dict[str, Encoder] = {
    "8-bit PNG": lambda s, g: _write_gdal(s.with_suffix(".png"), g[None], "PNG"),
    "8-bit GeoTIFF": lambda s, g: _write_gdal(s.with_suffix(".tif"), g[None], "GTiff"),
    "16-bit PNG ×257": lambda s, g: _write_gdal(s.with_suffix(".png"), (g.astype(np.uint16) * 257)[None], "PNG"),
    "16-bit PNG ×256": lambda s, g: _write_gdal(s.with_suffix(".png"), (g.astype(np.uint16) * 256)[None], "PNG"),
    "16-bit TIFF ×257": lambda s, g: _write_gdal(s.with_suffix(".tif"), (g.astype(np.uint16) * 257)[None], "GTiff"),
    "16-bit TIFF ×256": lambda s, g: _write_gdal(s.with_suffix(".tif"), (g.astype(np.uint16) * 256)[None], "GTiff"),
    "float32 TIFF 0-255": lambda s, g: _write_gdal(s.with_suffix(".tif"), g.astype(np.float32)[None], "GTiff"),
    "float32 TIFF 0-1": lambda s, g: _write_gdal(s.with_suffix(".tif"), (g.astype(np.float32) / 255)[None], "GTiff"),
    "RGB PNG (R=G=B)": lambda s, g: _write_gdal(s.with_suffix(".png"), np.stack([g] * 3), "PNG"),
    "RGBA PNG (opaque)": lambda s, g: _write_gdal(s.with_suffix(".png"), np.stack([g] * 3 + [np.full_like(g, 255)]), "PNG"),
    "grey JPEG q95": lambda s, g: _pil(s.with_suffix(".jpg"), g, "L", quality=95),
    "colour JPEG q95": lambda s, g: _pil(s.with_suffix(".jpg"), g, "RGB", quality=95),
    "16-bit ×257 .PNG": lambda s, g: _write_gdal(s.with_suffix(".PNG"), (g.astype(np.uint16) * 257)[None], "PNG"),
    "8-bit .TIF": lambda s, g: _write_gdal(s.with_suffix(".TIF"), g[None], "GTiff"),
    "16-bit PNG ×1 (0-255)": lambda s, g: _write_gdal(s.with_suffix(".png"), g.astype(np.uint16)[None], "PNG"),
}
"""Encoding name -> writer. The last row stores the values unscaled in 16 bits: they read as genuine
low-valued 16-bit amplitude would (the two cannot be told apart), shown for completeness."""

Found = list[tuple[float, float, float]]


def _detect(path: Path, pixel_size: float) -> Found:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        found = detect_image_file(path, sensor="sar", pixel_size=pixel_size)
    return [(d.row, d.col, d.score) for d in found.detections]


def _rounded(found: Found) -> list[tuple[float, float, float]]:
    return sorted((round(r, 2), round(c, 2), round(s, 3)) for r, c, s in found)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--work", type=Path, default=None, help="folder for the re-encoded chips (default: a temporary one)")
    ap.add_argument("--verbose", action="store_true", help="name the chips whose detections differ")
    args = ap.parse_args(argv)
    if message := missing_datasets(args.datasets, BOX_CHIPS):
        print(message, file=sys.stderr)
        return 2
    # (dataset, stored file, 8-bit grey as read, boxes)
    chips = []
    for folder, reader in ((BOX_CHIPS[0], ssdd_chips), (BOX_CHIPS[1], hrsid_chips)):
        files = {p.stem: p for p in _images(args.datasets / folder)}
        chips += [(folder, files[name], grey, boxes) for name, grey, boxes in reader(args.datasets)]
    with tempfile.TemporaryDirectory(prefix="sar-encodings-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        stored = {(folder, path.stem): _detect(path, NOMINAL_PIXEL_M[folder]) for folder, path, _, _ in chips}
        rows: list[tuple[str, Counts, int, list[str]]] = []
        reference = Counts()
        for folder, path, _, boxes in chips:
            reference.add(match_boxes(stored[(folder, path.stem)], boxes))
        rows.append(("stored chips (reference)", reference, 0, []))
        for k, (name, write) in enumerate(ENCODINGS.items()):
            counts, differ = Counts(), []
            for folder, path, grey, boxes in chips:
                if grey.dtype != np.uint8:
                    raise SystemExit(f"{path}: read as {grey.dtype}, not an 8-bit rendering")
                out = write(work / f"e{k:02d}_{path.stem}", grey)
                found = _detect(out, NOMINAL_PIXEL_M[folder])
                counts.add(match_boxes(found, boxes))
                if _rounded(found) != _rounded(stored[(folder, path.stem)]):
                    differ.append(path.stem)
            rows.append((name, counts, len(differ), differ))
    ref_f1 = reference.prf()[2]
    print(f"{len(chips)} chips ({sum(c[0] == BOX_CHIPS[0] for c in chips)} SAR-Ship-Dataset at 5 m, {sum(c[0] == BOX_CHIPS[1] for c in chips)} HRSID at 1 m)")
    print(f"{'encoding':<26} {'TP':>4} {'FP':>4} {'FN':>4}  {'F1':>5}  {'ΔF1':>6}  chips differing")
    for name, c, n, differ in rows:
        f1 = c.prf()[2]
        print(f"{name:<26} {c.tp:4d} {c.fp:4d} {c.fn:4d}  {f1:.3f}  {f1 - ref_f1:+.3f}  {n}/{len(chips)}")
        if args.verbose and differ:
            print(f"    {', '.join(differ)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
