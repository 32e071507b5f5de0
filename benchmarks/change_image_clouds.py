"""What the optical detector's spectral cloud test would leave out of change-image's real pairs without an SCL band.

    python benchmarks/change_image_clouds.py [--bright 0.25]

change-image reads cloud only from an SCL band in the files. Would the optical detector's spectral test
(:func:`sitewatch.detect.clouds.cloud_mask`: bright, white, bright in NIR, 120 m across; dark ground near it
as shadow) do for files without one? On each OSCD city with band stacks and labels (``change_oscd.py``'s:
Sentinel-2 L1C, blue/green/red/nir, urban change labelled per pixel), and on abudhabi with 1,000 DN added to
its second date (band files out of a SAFE without the product's BOA_ADD_OFFSET, which change-image otherwise
compares alike), the pair is compared twice in the same run: every pixel both images hold (the baseline), then
with what the test finds in either image, widened by 100 m as an SCL band's cloud is, left out. Printed per
pair: the share left out, regions, recall and precision of the labelled change, and the ratio of the labelled
change found with the test to without it (a test that took new roofs or desert for cloud would lower it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from change_oscd import Pair, oscd_cities, oscd_pair  # noqa: E402


def _clouds(pair: Pair, held: np.ndarray, bright: float) -> np.ndarray:
    """What the spectral test finds in either date, widened by 100 m as change-image widens an SCL band's cloud."""
    from scipy import ndimage

    from sitewatch.detect.clouds import cloud_mask

    hidden = np.zeros(held.shape, bool)
    for data in (pair.before, pair.after):
        bands = {name: np.nan_to_num(data[i]) for i, name in enumerate(pair.bands)}
        hidden |= cloud_mask(bands, pixel_size=pair.pixel_m, bright=bright, valid=held)
    return ndimage.binary_dilation(hidden, iterations=round(100 / pair.pixel_m)) if hidden.any() else hidden


def main() -> None:
    import argparse
    from dataclasses import replace

    from sitewatch.change import ChangeImage, detect_changes
    from sitewatch.model import Grid

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bright", type=float, default=0.25, help="the test's brightness threshold (the detector's: 0.25)")
    bright = parser.parse_args().bright

    print(f"{'city':13} {'left out':>8} {'regions':>11} {'recall':>13} {'precision':>13} {'found, ratio':>12}")
    total = np.zeros((2, 2), np.int64)  # (without, with) x (labelled found, labelled)
    pairs = [oscd_pair(city) for city in oscd_cities()]
    pairs += [replace(p, name="abudhabi+1000", after=p.after + np.float32(0.1)) for p in pairs if p.name == "abudhabi"]
    for p in pairs:
        city = p.name
        h, w = p.label.shape
        grid = Grid("EPSG:32631", (p.pixel_m, 0.0, 500_000.0, 0.0, -p.pixel_m, 5_000_000.0), w, h)
        held = np.isfinite(p.before).all(axis=0) & np.isfinite(p.after).all(axis=0)
        cloud = _clouds(p, held, bright)
        row = []
        for k, valid in enumerate((held, held & ~cloud)):
            before = ChangeImage(p.before, grid, "optical", p.bands, label=f"{city} date 1", valid=valid)
            after = ChangeImage(p.after, grid, "optical", p.bands, label=f"{city} date 2", valid=valid)
            r = detect_changes(before, after, min_area_m2=200.0)
            found = int((r.changed & p.label).sum())
            total[k] += (found, int((p.label & held).sum()))
            row.append((len(r.regions), found / max(1, int((p.label & held).sum())), found / max(1, int(r.changed.sum()))))
        left = float((held & cloud).sum() / held.sum())
        ratio = row[1][1] / row[0][1] if row[0][1] else float("nan")
        print(f"{city:13} {left:8.1%} {row[0][0]:5d} -> {row[1][0]:<4d} {row[0][1]:5.1%} -> {row[1][1]:<5.1%} "
              f"{row[0][2]:5.1%} -> {row[1][2]:<5.1%} {ratio:12.3f}")  # fmt: skip
    print(f"pooled (every pair above) labelled change found: {total[0, 0] / total[0, 1]:.1%} without the test, {total[1, 0] / total[1, 1]:.1%} with it "
          f"(ratio {total[1, 0] / max(1, total[0, 0]):.3f})")


if __name__ == "__main__":
    main()
