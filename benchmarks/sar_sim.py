"""Rerun SAR detection on a simulated workspace and score it; optionally dump features.

Run:  sitewatch demo --out /tmp/demo-sar   (once; makes the simulated workspace)
      python benchmarks/sar_sim.py /tmp/demo-sar [--features sim.csv]

Only the SAR observations are detected again (the optical ones keep whatever
detections they had), so the SAR figures do not depend on the optical
detector's state. They are detected by the pipeline's own call
(:func:`sitewatch.detection.detect_observation`, default length limits), so the
parameters are the pipeline's: the site's water polygon as given, the impulse
response the archived image's tags state (the simulator's: none). Prints the evaluation's ``by_sensor["sar"]`` scores: precision,
recall, and length MAE / bias of matched ships longer than 80 m.

``--features`` writes one row per detection with the detector's size measures
(:func:`sitewatch.detect.sar.size_features`) and the length of the nearest truth
ship (within 3 pixels), for checking a length rule on simulated data.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from sitewatch.detect import sar
from sitewatch.detect.image import impulse_response_from_tags
from sitewatch.detection import DetectJob, detect_observation
from sitewatch.detection_masks import water_mask
from sitewatch.detection_read import observation_bands, read_observation
from sitewatch.evaluate import evaluate_workspace
from sitewatch.geo import ground_pixel_size
from sitewatch.ingest import site_mask
from sitewatch.workspace import open_workspace


def _truth(path: Path, obs_grid: object) -> list[tuple[float, float, float]]:
    """(row, col, length) of the truth ships of an archived image (pixel centres on integers)."""
    tj = path.with_suffix(".truth.geojson")
    if not tj.exists():
        return []
    from pyproj import Transformer
    from shapely.geometry import shape

    g = obs_grid
    tr = Transformer.from_crs("EPSG:4326", g.crs, always_xy=True)  # type: ignore[attr-defined]
    inv = ~g.affine  # type: ignore[attr-defined]
    out = []
    for f in json.loads(tj.read_text())["features"]:
        props = f.get("properties") or {}
        if props.get("kind", "vessel") != "vessel":
            continue
        c = shape(f["geometry"]).centroid
        x, y = tr.transform(c.x, c.y)
        col, row = inv @ (x, y)
        out.append((row - 0.5, col - 0.5, float(props.get("length_m") or 0.0)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--features", type=Path)
    args = ap.parse_args(argv)
    ws = open_workspace(args.workspace)
    rows: list[dict[str, object]] = []
    with ws.store() as store:
        for site_id in [s.id for s in store.sites()]:
            site = store.get_site(site_id)
            for obs in store.observations(site_id):
                if obs.scene.sensor != "sar":
                    continue
                path = Path(ws.root).resolve() / obs.path
                result = detect_observation(DetectJob(site, obs, str(path), {}))
                if result.error:
                    raise SystemExit(result.error)
                with store.transaction():
                    store.replace_detections(obs, result.detections)
                if args.features:
                    # The measures need the detector's own call; its parameters as the pipeline sets them.
                    data, names = read_observation(str(path)), observation_bands(str(path), obs)
                    valid = site_mask(site, obs.grid) & np.all(np.isfinite(data), axis=0)
                    water = water_mask(site, obs.grid)
                    pixel = ground_pixel_size(obs.grid.crs, obs.grid.affine, obs.grid.width, obs.grid.height)
                    band = names.index("VV") if "VV" in names else 0
                    params = sar.SarParams(refine_water=False, berth_margin_m=0.0) if water is not None else sar.SarParams()
                    params = replace(params, resolution_m=impulse_response_from_tags(obs.provenance.get("tags") or {}))
                    found = sar.detect_sar_with_features(data[band], pixel, valid=valid, water=water, params=params)
                    truth = _truth(path, obs.grid)
                    for d, ft in found:
                        near = min(truth, key=lambda t: math.hypot(t[0] - d.row, t[1] - d.col), default=None)
                        ok = near is not None and math.hypot(near[0] - d.row, near[1] - d.col) <= 3.0
                        rows.append({"scene": obs.id, "length_m": d.length_m, "truth_m": near[2] if ok and near else 0.0} | ft)
    e = evaluate_workspace(ws, record=False).to_dict()
    print(json.dumps(e["by_sensor"]["sar"]))
    if args.features and rows:
        with args.features.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
