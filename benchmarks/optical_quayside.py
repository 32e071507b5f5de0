"""Why a hull moored alongside a quay or pier is not found in image-only mode at 0.5-3 m: a diagnosis.

    python benchmarks/optical_quayside.py                       # the drawn harbour, hull alongside its quay
    python benchmarks/optical_quayside.py --demo /tmp/demo-q    # also the demo's 3 m Dunai scenes

For each SIMULATED hull it prints, in image-only mode (no water mask, as ``detect-image``):

- the pixel score on the hull's own pixels (median, 10th percentile, share above each candidate level);
- the learned stages' candidates centred within 80 m of it (level, length x width, object score; the
  object threshold is 0.85);
- the same candidates cut on dry pixels alone (the pixel score set to 0 on NDWI water), centred
  within 40 m of it: an experiment, not what the detector does;
- the open-water contrast stage's component holding the hull (its length, its share of ring pixels that
  are NDWI water and that are quiet; the ring test asks 0.8 of each);
- the detections centred within 40 m of it, in image-only mode and with the water known (the quay or
  pier left out of the water mask; the drawn harbour only, whose quay is a straight line).

Nothing here is real imagery.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

# A diagnosis reads the stages' own private helpers (_load_model, _open_water, _ring, _px).
from sitewatch.detect.base import measure_components
from sitewatch.detect.optical import (
    OpticalParams,
    _load_model,
    detect_optical,
    model_for,
    multi_candidates,
    object_scores,
    params_for_dn_scale,
    score_pixels,
)
from sitewatch.detect.optical_contrast import _open_water, _ring, contrast_z
from sitewatch.detect.optical_features import _px
from sitewatch.testing.harbour import DrawnHull, harbour_rgb

# Alongside the drawn quay (its face at x = 100 m): long axis north-south, 1 m off the face.
ALONGSIDE = DrawnHull(row_m=200.0, col_m=110.0, turn_deg=90.0)


def _report(
    name: str,
    bands: Mapping[str, NDArray[np.float32]],
    p: float,
    hull: NDArray[np.bool_],
    params: OpticalParams,
    water_known: NDArray[np.bool_] | None,
) -> None:
    model = _load_model(model_for(bands, params))
    sc = score_pixels(bands, (p, p), model, params=params)
    prob = sc.prob[hull]
    rr, cc = np.nonzero(hull)
    r0, c0 = rr.mean(), cc.mean()
    print(f"{name}: pixel {p} m, hull {hull.sum()} px")
    levels = " ".join(f">{t}: {(prob > t).mean():.2f}" for t in params.pixel_thresholds)
    print(f"  pixel score on the hull: median {np.median(prob):.2f}, p10 {np.percentile(prob, 10):.2f}; share {levels}")
    ms, xs = multi_candidates(sc.prob, sc.features, sc.water, sc.hidden, (p, p), params, bands=sc.bands)
    score = object_scores(xs, model) if len(xs) else np.zeros(0)
    near = [i for i in range(score.size) if max(abs(ms["row"][i] - r0), abs(ms["col"][i] - c0)) * p < 80]
    for i in near:
        print(
            f"  candidate at level {xs[i, -1]:.2f}: {ms['length_m'][i]:5.0f} x {ms['width_m'][i]:3.0f} m,"
            f" object score {score[i]:.2f}"
        )
    if not near:
        print("  no candidate within 80 m")
    # The same candidates cut from the pixel score on dry (not NDWI water) pixels alone: does the hull
    # come apart from the quay face, and what does the object model make of it then?
    dry = np.where(sc.water, np.float32(0.0), sc.prob)
    ms, xs = multi_candidates(dry, sc.features, sc.water, sc.hidden, (p, p), params, bands=sc.bands)
    score = object_scores(xs, model) if len(xs) else np.zeros(0)
    for i in range(score.size):
        if max(abs(ms["row"][i] - r0), abs(ms["col"][i] - c0)) * p < 40:
            print(
                f"  on dry pixels alone, level {xs[i, -1]:.2f}: {ms['length_m'][i]:5.0f} x {ms['width_m'][i]:3.0f} m,"
                f" object score {score[i]:.2f}"
            )
    z, _, _ = contrast_z(sc.bands, (p, p), params, ~sc.hidden)
    labels, _ = ndimage.label(z > params.contrast_grow_z, structure=np.ones((3, 3), bool))
    ids = np.unique(labels[hull & (z > params.contrast_seed_z)])
    for i in ids[ids > 0]:
        obj = labels == i
        m = measure_components(obj.astype(np.int32), np.array([1]), p)
        ring = _ring(obj, max(3, _px(params.contrast_ring_m, p)), sc.hidden)
        wet, calm = sc.water[ring].mean(), (z[ring] <= params.contrast_grow_z).mean()
        print(
            f"  contrast component holding the hull: {m['length_m'][0]:.0f} x {m['width_m'][0]:.0f} m, ring water"
            f" {wet:.2f}, quiet {calm:.2f}: open water {_open_water(ring, sc.water, z, params)}"
        )
    for label, water in (("image only", None), ("water known", water_known)):
        if label == "water known" and water is None:
            continue
        found = detect_optical(bands, p, params=params, water=water)
        at = [d for d in found if d.kind == "vessel" and max(abs(d.row - r0), abs(d.col - c0)) * p < 40]
        boxes = ", ".join(f"{d.length_m:.0f} x {d.width_m:.0f} m ({d.score:.2f})" for d in at) or "none"
        print(f"  detected, {label}: {boxes}")


def _demo(folder: Path, params: OpticalParams) -> None:
    import rasterio
    from rasterio.features import rasterize
    from rasterio.warp import transform_geom

    for tif in sorted((folder / "simulated" / "dunai").glob("sim-planet-dunai-*.tif")):
        truth = json.loads(tif.with_name(tif.stem + ".truth.geojson").read_text())
        with rasterio.open(tif) as src:
            bands = {n: src.read(i + 1) for i, n in enumerate(src.descriptions)}
            for f in truth["features"]:
                if f["properties"]["kind"] != "vessel" or not f["properties"].get("visible", True):
                    continue
                g = transform_geom("EPSG:4326", src.crs, f["geometry"])
                hull = rasterize([(g, 1)], out_shape=src.shape, transform=src.transform).astype(bool)
                if hull.any():
                    name = f"{tif.stem} {f['properties']['id']} ({f['properties']['length_m']:.0f} m)"
                    _report(name, bands, src.transform.a, hull, params, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pixel", type=float, nargs="+", default=[0.5, 1.0, 3.0])
    ap.add_argument("--demo", type=Path, help="a `sitewatch demo --out` folder: also its 3 m Dunai scenes")
    args = ap.parse_args()
    rendering = params_for_dn_scale(OpticalParams(), 255.0)  # as detect-image reads an 8-bit file
    for p in args.pixel:
        bands, hull = harbour_rgb(p, ALONGSIDE)
        n = hull.shape[1]
        water = np.broadcast_to((np.arange(n) + 0.5) * p >= 100.0, hull.shape)
        _report("drawn harbour, 70 x 18 m hull alongside the quay", bands, p, hull, rendering, water)
    if args.demo:
        _demo(args.demo, OpticalParams())


if __name__ == "__main__":
    main()
