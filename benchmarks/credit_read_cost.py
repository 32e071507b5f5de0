"""What reading an image file's credit (:func:`sitewatch.image_credit.files_credit`) adds to a ``detect-image`` run:
the modules it imports on top of those detection has loaded, and its reading of the file, against the same with the
ingest package imported first, as reading a file's metadata did before 8 Dec 2026 (``sitewatch.ingest.metadata``, whose
package imports its archive, cut and orthorectification modules), in the same run.

Writes one tiny tagged GeoTIFF, then ``--rounds`` times each way, alternately, starts a fresh Python that imports what
``detect-image`` has imported before it reads the credit (its command, :mod:`sitewatch.detect.inputs` and
:mod:`sitewatch.detect.image`) and times, in it, the credit's reading (and, for the baseline, the ingest package's import
before it). Prints the median milliseconds and the ratio.

    python benchmarks/credit_read_cost.py --rounds 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from affine import Affine

from sitewatch.testing import write_tiff

_TIMED = """
import time
import sitewatch.cli.detect_image, sitewatch.detect.image, sitewatch.detect.inputs
t = time.perf_counter()
{before}
from sitewatch.image_credit import files_credit
line = files_credit([{path!r}])
print(time.perf_counter() - t)
assert line == "Contains modified Copernicus Sentinel data 2024", line
"""


def _once(path: Path, *, ingest_first: bool) -> float:
    """Seconds the credit's reading took in a fresh Python, after detection's imports."""
    script = _TIMED.format(before="import sitewatch.ingest" if ingest_first else "", path=str(path))
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, encoding="utf-8", env=env, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    """Time both ways, alternately, and print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="fresh processes each way (default 9)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tiff(Path(tmp) / "scene.tif", np.zeros((1, 8, 8), dtype="uint16"), crs="EPSG:32632",
                          transform=Affine(10, 0, 500000, 0, -10, 4000000),
                          tags={"SITEWATCH_PLATFORM": "sentinel-2b", "SITEWATCH_ACQUIRED": "2024-10-17T10:00:00Z"})  # fmt: skip
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for ingest_first in (True, False):
                times[ingest_first].append(_once(path, ingest_first=ingest_first))
    base = statistics.median(times[True])
    print(f"{'credit read':<46} {'median ms':>10} {'ratio':>7}")
    for ingest_first, label in ((True, "with the ingest package imported (baseline)"), (False, "without it (this)")):
        ms = statistics.median(times[ingest_first])
        print(f"{label:<46} {ms * 1000:>10.0f} {ms / base:>6.2f}x")


if __name__ == "__main__":
    main()
