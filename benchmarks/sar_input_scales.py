"""The SAR detector on the same OpenSARShip GRD ships stored three ways: does the value scale matter?

    python benchmarks/sar_input_scales.py [--datasets DIR]

OpenSARShip packs each ship twice: ``Patch_Cal/`` (calibrated sigma0 intensity, what
``sar_real.py`` scores) and ``Patch/`` (the product's uncalibrated amplitude digital
numbers, whole numbers in a float32 file). Someone scoring ``sitewatch detect-image``
on data we never saw may pick either. Printed for the GRD chips, VV+VH where the chip has
both: centred ship found and length error against AIS (as ``sar_real.py`` counts them) for

* ``Patch_Cal`` (the reference),
* ``Patch`` read with ``input_scale="auto"`` (what ``detect-image`` does),
* ``Patch`` forced to intensity (how ``auto`` read such files up to sar-cfar 1.8.0).
"""

from __future__ import annotations

import argparse
import sys
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sar_real import OPENSARSHIP, centred_detection, missing_datasets, opensarship_chips  # noqa: E402
from sitewatch.detect.sar import SarParams, detect_sar  # noqa: E402
from sitewatch.detect.sar_dual import detect_sar_dual  # noqa: E402


def uncalibrated(root: Path) -> dict[tuple[str, str], np.ndarray]:
    """(scene, chip file name) -> the ``Patch/`` chip's bands as stored."""
    out = {}
    for zp in sorted((root / "opensarship-s1-subset").glob("*/*.zip")):
        with zipfile.ZipFile(zp) as zf:
            for n in zf.namelist():
                if "/Patch/" in "/" + n and n.endswith(".tif"):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", NotGeoreferencedWarning)
                        with MemoryFile(zf.read(n)) as mf, mf.open() as ds:
                            out[(zp.stem, n.rsplit("/", 1)[-1])] = ds.read()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    args = ap.parse_args(argv)
    if message := missing_datasets(args.datasets, (OPENSARSHIP,)):
        print(message, file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        chips = [c for c in opensarship_chips(args.datasets) if c.kind == "GRD"]
    raw = uncalibrated(args.datasets)
    chips = [c for c in chips if (c.scene, c.name) in raw]
    as_intensity = replace(SarParams(), input_scale="intensity")
    for how in ("Patch_Cal", "Patch, auto", "Patch as intensity"):
        found, errs = 0, []
        for c in chips:
            if how == "Patch_Cal":
                co, cross = c.intensity, c.cross
            else:
                b = raw[(c.scene, c.name)]
                co, cross = b[-1], (b[0] if b.shape[0] == 2 else None)
            p = as_intensity if how == "Patch as intensity" else SarParams()
            dets = detect_sar_dual(co, cross, c.pixel, params=p) if cross is not None else detect_sar(co, c.pixel, params=p)
            d = centred_detection(c, dets)
            if d is not None:
                found += 1
                if c.ais_length > 0:
                    errs.append(abs(d.length_m - c.ais_length))  # type: ignore[attr-defined]
        print(f"{how:<20} chips {len(chips)}  centred ship found {found / len(chips):.3f}  length MAE vs AIS {np.mean(errs):5.1f} m (n {len(errs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
