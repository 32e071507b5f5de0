"""Image-only optical detection on scenes with no ships: OSCD's Sentinel-2 L1C cities, before and after the water-body test.

    python benchmarks/optical_inland.py [--datasets DIR] [--cities rennes paris ...]

OSCD (``DIR/oscd``, default ``$SITEWATCH_DATASETS`` else ``../shared/datasets``) holds 13-band stacks of
seven cities, two dates each; Rennes, Paris and Bercy are inland (no ship; rivers and canals at most),
Abu Dhabi's crop is desert suburbs, Mumbai's a creek and mangrove, Beihai's farmland with fish ponds, Hong
Kong's a harbour. Each scene is read as ``detect-image --band blue=B02 green=B03 red=B04 nir=B08`` reads it
(L1C: DN / 10,000) and run with the default parameters and, as the baseline in the same run, with
``water_body_m=0`` (search near any water, as ``optical-mlp`` 0.4.1 did). It prints the vessels of each.
No labels: on the inland cities every vessel is a false alarm.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from sitewatch.detect.optical import OpticalParams
from sitewatch.detect.optical_image import detect_optical_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402

OSCD = "oscd/Onera Satellite Change Detection dataset - Images"
CITIES = ("rennes", "paris", "bercy", "abudhabi", "mumbai", "beihai", "hongkong")


def band_files(folder: Path) -> dict[str, Path]:
    """The four bands the optical detector reads, by name, from an OSCD ``imgs_N`` folder."""
    out = {}
    for name, code in (("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08")):
        out[name] = next(folder.glob(f"*_{code}.tif"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=datasets_root())
    ap.add_argument("--cities", nargs="*", default=list(CITIES))
    args = ap.parse_args()
    now = OpticalParams()
    before = replace(now, water_body_m=0.0)
    print(f"{'scene':<18} {'vessels, any water':>18} {'vessels, bodies of water':>24}")
    totals = [0, 0]
    for city in args.cities:
        for date in ("imgs_1", "imgs_2"):
            folder = args.datasets / OSCD / city / date
            if not folder.is_dir():
                print(f"{city}/{date}: no 13-band stack, skipped")
                continue
            counts = []
            for params in (before, now):
                res = detect_optical_image(band_files(folder), params=params)
                counts.append(sum(1 for d in res.detections if d.kind == "vessel"))
            totals = [t + c for t, c in zip(totals, counts, strict=True)]
            print(f"{city + '/' + date:<18} {counts[0]:>18} {counts[1]:>24}")
    print(f"{'all':<18} {totals[0]:>18} {totals[1]:>24}")


if __name__ == "__main__":
    main()
