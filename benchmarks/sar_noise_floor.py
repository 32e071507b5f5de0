"""The SAR detector on OpenSARShip GRD chips with a thermal noise taken out: why ``sar_thermal_noise`` is ``keep``.

    python benchmarks/sar_noise_floor.py [--datasets DIR] [--levels -30 -27 -25] [--json]

OpenSARShip's ``Patch_Cal`` chips, on which the SAR detector was tuned and validated
(``sar_real.py``), are calibrated sigma0 with the thermal noise in. ``sar_thermal_noise =
subtract`` gives sigma0 = (DN² − N) / A² instead, as SNAP's ThermalNoiseRemoval does. The chips
carry no noise LUT, so a constant noise sigma0 (a noise-equivalent sigma0 of −30, −27 or −25 dB;
Sentinel-1 IW's is specified at −22 dB or better and varies across each sub-swath) is taken out of VV and VH,
and a pixel left at or below zero is floored as :mod:`sitewatch.sources.s1_radiometry` floors it
(``NOISE_FLOOR_DN2`` / A², A = 500: about −73 dB). For each level, as ``sar_real.py`` counts them
(VV+VH where the chip has both): the centred ship found, the length error against AIS, detections
per chip, the share of floored pixels, and the chips on which the detector raised an error (each
counted as a miss, its exception named), against the chips as they are, in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sar_real import (  # noqa: E402
    DEFAULT_DATASETS,
    OPENSARSHIP,
    Chip,
    centred_detection,
    missing_datasets,
    opensarship_chips,
)
from sitewatch.detect.sar import detect_sar  # noqa: E402
from sitewatch.detect.sar_dual import detect_sar_dual  # noqa: E402
from sitewatch.sources.s1_radiometry import NOISE_FLOOR_DN2  # noqa: E402

SIGMA_NOUGHT = 500.0
"""A typical IW GRD calibration value (A): the floor is NOISE_FLOOR_DN2 / A²."""


def subtract_noise(a: np.ndarray | None, noise_db: float | None) -> np.ndarray | None:
    """sigma0 ``a`` with a constant noise sigma0 of ``noise_db`` taken out and floored; no data (0) stays 0."""
    if a is None or noise_db is None:
        return a
    b = a - np.float32(10 ** (noise_db / 10))
    floor = np.float32(NOISE_FLOOR_DN2 / SIGMA_NOUGHT**2)
    return np.where(a > 0, np.where(b > 0, b, floor), 0).astype(np.float32)


def run_level(chips: list[Chip], noise_db: float | None) -> dict[str, object]:
    """The detector on every chip at one noise level: found, length errors, detections, errors."""
    hit, n_dets, errs = 0, 0, []
    floored = {"VV": [0, 0], "VH": [0, 0]}
    failures: Counter[str] = Counter()
    for chip in chips:
        vv, vh = subtract_noise(chip.intensity, noise_db), subtract_noise(chip.cross, noise_db)
        for pol, given, band in (("VV", chip.intensity, vv), ("VH", chip.cross, vh)):
            if given is not None and band is not None and noise_db is not None:
                data = given > 0
                floored[pol][0] += int(np.count_nonzero(band[data] <= NOISE_FLOOR_DN2 / SIGMA_NOUGHT**2))
                floored[pol][1] += int(np.count_nonzero(data))
        try:
            dets = detect_sar_dual(vv, vh, chip.pixel) if vh is not None else detect_sar(vv, chip.pixel)
        except Exception as exc:  # counted and named: how often it happens is the point
            failures[f"{type(exc).__name__} ({'VV+VH' if vh is not None else 'VV'})"] += 1
            continue
        n_dets += len(dets)
        d = centred_detection(chip, dets)
        if d is None:
            continue
        hit += 1
        if chip.ais_length > 0:
            errs.append(d.length_m - chip.ais_length)  # type: ignore[attr-defined]
    e = np.abs(np.array(errs)) if errs else np.array([math.nan])
    return {
        "noise_db": noise_db,
        "chips": len(chips),
        "found": hit,
        "found_rate": hit / max(len(chips), 1),
        "length_mae_m": float(e.mean()),
        "n_length": len(errs),
        "detections_per_chip": n_dets / max(len(chips), 1),
        "floored_vv": floored["VV"][0] / max(floored["VV"][1], 1),
        "floored_vh": floored["VH"][0] / max(floored["VH"][1], 1),
        "errors": sum(failures.values()),
        "error_kinds": dict(failures),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--levels", type=float, nargs="+", default=[-30.0, -27.0, -25.0], metavar="DB",
                    help="noise sigma0 levels (dB) to take out (default -30 -27 -25)")  # fmt: skip
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if message := missing_datasets(args.datasets, (OPENSARSHIP,)):
        print(message, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    chips = [c for c in opensarship_chips(args.datasets) if c.kind == "GRD"]
    vv = [10 * np.log10(np.median(c.intensity[c.intensity > 0])) for c in chips]
    vh = [10 * np.log10(np.median(c.cross[c.cross > 0])) for c in chips if c.cross is not None]
    print(f"OpenSARShip GRD chips {len(chips)} ({len(vh)} with VH); chip median sigma0, 10/50/90th percentile: "
          f"VV {' / '.join(f'{v:.1f}' for v in np.percentile(vv, [10, 50, 90]))} dB, "
          f"VH {' / '.join(f'{v:.1f}' for v in np.percentile(vh, [10, 50, 90]))} dB")  # fmt: skip
    results = [run_level(chips, level) for level in [None, *args.levels]]
    base = results[0]
    for r in results:
        what = "as they are (noise in)" if r["noise_db"] is None else f"noise {r['noise_db']:g} dB out"
        ran = f" (of the {r['chips'] - r['errors']} it ran on)" if r["errors"] else ""  # type: ignore[operator]
        line = (f"{what:<24} centred ship found {r['found']}/{r['chips']} = {r['found_rate']:.3f}{ran}  "
                f"length MAE {r['length_mae_m']:.1f} m (n {r['n_length']})  detections/chip {r['detections_per_chip']:.2f}")  # fmt: skip
        if r is not base:
            line += (f"\n{'':<24} vs noise in: found {r['found'] - base['found']:+d}, length MAE "  # type: ignore[operator]
                     f"x{r['length_mae_m'] / base['length_mae_m']:.2f}; floored pixels VV {r['floored_vv']:.1%}, VH {r['floored_vh']:.1%}; "  # type: ignore[operator]
                     f"detector errors {r['errors']}" + (f" ({', '.join(f'{k} {n}' for k, n in r['error_kinds'].items())})" if r["errors"] else ""))  # type: ignore[attr-defined]  # fmt: skip
        print(line)
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
