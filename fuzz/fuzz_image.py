"""Fuzz an image file as `sitewatch detect-image IMAGE --sensor sar` reads it: a small GeoTIFF or a PNG
(the input's first byte picks the suffix), its header and pixels garbled by libFuzzer."""

from __future__ import annotations

import io
import os

# GDAL keeps decoded blocks of every file opened in a cache of 5 % of the machine's memory by default (1.1 GB on
# 23 GB): a run of 86 s passed libFuzzer's 2 GB -rss_limit_mb, reported as an out-of-memory of the input that
# came last (it runs in 20 ms alone); with 64 MB, 3,892 runs in 245 s held at 301 MB. A small cache keeps the
# limit for what one input allocates. Set before rasterio is imported, which reads it once.
os.environ.setdefault("GDAL_CACHEMAX", "64")

import atheris  # noqa: E402
from _harness import as_file, run

with atheris.instrument_imports(include=["sitewatch"]):
    import numpy as np
    import rasterio
    from affine import Affine
    from PIL import Image

    from sitewatch.detect.image import detect_image

SUFFIXES = (".tif", ".png")


def _tiff() -> bytes:
    a = np.full((48, 48), 40, np.uint16)
    a[20:24, 10:30] = 4000  # a bright hull on dark sea
    with rasterio.MemoryFile() as mem:
        with mem.open(driver="GTiff", width=48, height=48, count=1, dtype="uint16", crs="EPSG:32652",
                      transform=Affine(10, 0, 500000, 0, -10, 3900000)) as ds:  # fmt: skip
            ds.write(a, 1)
        return bytes(mem.read())


def _png() -> bytes:
    a = np.full((48, 48), 10, np.uint8)
    a[20:24, 10:30] = 250
    out = io.BytesIO()
    Image.fromarray(a).save(out, format="PNG")
    return out.getvalue()


SEEDS = [b"\x00" + _tiff(), b"\x01" + _png()]


def read(data: bytes) -> None:
    suffix = SUFFIXES[data[0] % 2] if data else ".tif"
    detect_image(as_file(data[1:], f"image{suffix}"), "sar", pixel_size=10.0)


if __name__ == "__main__":
    run(read, SEEDS)
