"""The optical detector's known-water mode (a site's water polygon) on real ports, against image-only mode.

    python benchmarks/optical_known_water.py [--models DIR]

Inside ``sitewatch detect`` a site with a water polygon runs the optical detector in
known-water mode: everything opaque inside the polygon (NIR above the water around
it) is a vessel. The demo's simulated scenes were the only measure of that mode.
sen2ships has no water polygons, so two are made from each scene's own NDWI water
(the detector's, with its held-out pixel model), as bounds on what a user draws:

- ``coast``: the water with its holes filled (ships at anchor inside it), following
  every quay face: ships moored alongside stay outside it, as behind a coastline
  polygon drawn without berth lines;
- ``closed``: that water closed by a 40 m disk first, so ships alongside (and piers
  and jetties under 80 m wide) fall inside it, as in a coarse harbour-basin polygon.

Each port is scored as ``optical_sen2ships.py`` scores it (one-to-one, centroid in a
labelled box), with the fold models that never saw it (trained here, or reused from
``--models``, the folder ``optical_sen2ships.py --models`` writes). Known-water
detections are also shown kept only at a pixel score of at least 0.7 and 0.85.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import load_port, select_ports  # noqa: E402
from optical_sen2ships import HEADER, Score, _line, pooled, score  # noqa: E402
from optical_train import Prepared, fold_model  # noqa: E402
from sitewatch.detect.optical import OpticalParams, detect_optical, detect_optical_result  # noqa: E402


def polygons(water: np.ndarray, pixel_m: float) -> dict[str, np.ndarray]:
    """The two stand-ins for a user's water polygon (see the module doc)."""
    r = max(1, round(40.0 / pixel_m))
    yy, xx = np.ogrid[-r : r + 1, -r : r + 1]
    return {
        "coast": ndimage.binary_fill_holes(water),
        "closed": ndimage.binary_fill_holes(ndimage.binary_closing(water, structure=(xx * xx + yy * yy) <= r * r)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=None, help="fold models to reuse or keep (optical_sen2ships.py --models)")
    args = ap.parse_args()
    names = select_ports()
    rows: dict[str, list[Score]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.models or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        prepared: dict[str, Prepared] = {}
        for n in names:
            path = fold_model(folder, n, names, prepared, OpticalParams())
            port = load_port(n)
            params = replace(OpticalParams(), model=str(path))
            res = detect_optical_result(port.bands, port.pixel_size, params=params)
            rows.setdefault("image only (as benchmarked)", []).append(score(port, list(res.detections)))
            # Image only, then the polygon as a filter: kept when the centroid lies within 40 m
            # (the pipeline's berth distance) of the coast polygon.
            near = ndimage.binary_dilation(polygons(res.water, 1.0)["coast"], iterations=max(1, round(40.0 / float(np.mean(port.pixel_size)))))
            h, w = near.shape
            kept = [d for d in res.detections if near[min(max(round(d.row), 0), h - 1), min(max(round(d.col), 0), w - 1)]]
            rows.setdefault("image only, within 40 m of coast", []).append(score(port, kept))
            px = float(np.mean(port.pixel_size))
            for name, poly in polygons(res.water, px).items():
                # As the pipeline passes it (detection_masks.water_mask): shrunk by 20 m at the shore but
                # not from the image's edge (no shore), no berth lines (sen2ships has none), so nothing
                # is added back along the quays.
                mask = ndimage.binary_erosion(poly, iterations=max(1, round(20.0 / px)), border_value=1) & poly
                known = [d for d in detect_optical(port.bands, port.pixel_size, water=mask, params=params) if d.kind == "vessel"]
                for t in (0.0, 0.7, 0.85):
                    label = f"known water, {name}" + (f", score >= {t}" if t else "")
                    rows.setdefault(label, []).append(score(port, [d for d in known if d.score >= t]))
    print(f"sen2ships, {len(names)} ports, leave-one-port-out pixel models; pooled")
    print(f"{'mode':<38}" + HEADER[12:])
    for label, scores in rows.items():
        print(f"{label:<38}" + _line("", pooled(scores))[12:])


if __name__ == "__main__":
    main()
