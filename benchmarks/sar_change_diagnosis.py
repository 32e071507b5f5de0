"""Why SAR change finds regions on the demo's land where nothing changed (SIMULATED imagery).

    sitewatch demo --out /tmp/X
    python benchmarks/sar_change_diagnosis.py /tmp/X

Every SAR pair the demo workspace gives ``sitewatch change`` (each observation and the previous one
of its grid; the stored vessels and cranes left out, as the command does) is compared with
:func:`sitewatch.change.detect_changes`, nothing is written. In the seed-story scenario nothing on land
changes between SAR dates (the simulator's land backscatter, built-up texture and point scatterers are
drawn once per site; only the wind on the water, the vessels and the speckle are drawn per date), so
every region on land is a false alarm. Each region is put in one class from the simulator's own
layers, laid on the observation's grid: ``scatterer`` (within 2 pixels of a persistent point scatterer
brighter than 0 dB), else ``built`` (mostly built-up land), ``vegetation``, ``water``.

Printed per class: regions, regions per pair, median area, and the median over the regions of the
local heterogeneity factor of the despeckling window, (Σ μ)² / (N Σ μ²) for the N pixels' true
means μ (1 for a uniform window; the window's looks are that times N times one pixel's), which the
scene-wide looks estimate takes as about 1.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from sitewatch.change import detect_changes
from sitewatch.change_stage import (
    _masked_footprints,
    _objects_mask,
    choose_pairs,
    read_change_image,
)
from sitewatch.ingest import site_mask
from sitewatch.sources.scenario import load_scenario
from sitewatch.sources.simulate import _base
from sitewatch.workspace import open_workspace


def _on_grid(layer: np.ndarray, base_grid, grid) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The simulator's ``layer`` sampled at the observation grid's pixel centres (nearest)."""
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    xs, ys = grid.affine @ (cols + 0.5, rows + 0.5)
    c = np.floor((xs - base_grid.x0) / base_grid.res).astype(int)
    r = np.floor((base_grid.y0 - ys) / base_grid.res).astype(int)
    inside = (r >= 0) & (r < base_grid.height) & (c >= 0) & (c < base_grid.width)
    out = np.zeros(grid.shape)
    out[inside] = layer[r[inside], c[inside]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--despeckle", type=int, default=5)
    args = ap.parse_args(argv)
    ws = open_workspace(args.workspace)
    scen = load_scenario("seed-story")
    print("SIMULATED imagery (sitewatch demo, seed-story scenario)")
    with ws.store() as store:
        for sim_site in scen.sites:
            site = store.get_site(sim_site.id)
            obs = [o for o in store.observations(site.id) if o.scene.sensor == "sar"]
            pairs, _ = choose_pairs(obs, site.id)
            layers: dict[tuple, tuple[np.ndarray, ...]] = {}
            by_class: dict[str, list[tuple[float, float]]] = defaultdict(list)
            looks: list[float] = []
            footprints: dict[str, list[Any]] = {}
            for before, after in pairs:
                b = read_change_image(site, before, ws.root / before.path)
                a = read_change_image(site, after, ws.root / after.path)
                # The stored vessels and cranes of both dates left out, as `sitewatch change` leaves them.
                masked = [*_masked_footprints(store, before, footprints), *_masked_footprints(store, after, footprints)]
                exclude = _objects_mask(masked, before)
                res = detect_changes(b, a, area=site_mask(site, before.grid), exclude=exclude)
                looks.append(float(res.parameters.get("looks", np.nan)))
                key = (before.grid.transform, before.grid.shape)
                if key not in layers:
                    base = _base(sim_site, abs(before.grid.transform[0]), scen.seed)
                    land = _on_grid(base.land, base.grid, before.grid)
                    built = _on_grid(base.built, base.grid, before.grid)
                    points = _on_grid(base.sar_points, base.grid, before.grid)
                    mu = _on_grid(base.land * base.sar_land + base.sar_points, base.grid, before.grid)
                    k = args.despeckle
                    s1, s2 = ndimage.uniform_filter(mu, k), ndimage.uniform_filter(mu**2, k)
                    hetero = s1**2 / np.maximum(s2, 1e-12)
                    near_point = ndimage.binary_dilation(points > 1.0, iterations=2)
                    layers[key] = (land, built, near_point, hetero)
                land, built, near_point, hetero = layers[key]
                from rasterio.features import rasterize

                for r in res.regions:
                    m = rasterize([r.polygon], out_shape=before.grid.shape, transform=before.grid.affine).astype(bool)
                    if not m.any():
                        continue
                    if near_point[m].any():
                        cls = "scatterer"
                    elif land[m].mean() < 0.5:
                        cls = "water"
                    elif built[m].mean() >= 0.5:
                        cls = "built"
                    else:
                        cls = "vegetation"
                    by_class[cls].append((r.area_m2, float(np.median(hetero[m]))))
            n = len(pairs)
            total = sum(len(v) for v in by_class.values())
            print(f"\n{site.id}: {n} SAR pairs, {total} regions ({total / max(n, 1):.2f} per pair), "
                  f"scene-wide looks median {np.nanmedian(looks):.1f}")  # fmt: skip
            print(f"{'class':<11} {'regions':>7} {'per pair':>8} {'median m2':>9} {'heterogeneity':>13}")
            for cls in ("scatterer", "built", "vegetation", "water"):
                v = by_class.get(cls, [])
                if not v:
                    print(f"{cls:<11} {0:>7}")
                    continue
                arr = np.array(v)
                print(f"{cls:<11} {len(v):>7} {len(v) / max(n, 1):>8.2f} {np.median(arr[:, 0]):>9.0f} {np.median(arr[:, 1]):>13.2f}")
            sizes = Counter("<=2500" if a <= 2500 else ">2500" for v in by_class.values() for a, _ in v)
            print(f"areas: {dict(sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
