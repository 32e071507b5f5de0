"""Optical change where vegetation turns at its own pace: the demo's training ground, OSCD, noise-only pairs.

    python benchmarks/change_vegetation.py --demo DEMO_DIR --regions   # every region: land cover, direction, NDVI
    python benchmarks/change_vegetation.py --demo DEMO_DIR             # the variants on the training ground
    python benchmarks/change_vegetation.py --oscd                      # the variants on every labelled OSCD city (six here)
    python benchmarks/change_vegetation.py --noise 20                  # the variants on synthetic pairs

``DEMO_DIR`` is a workspace made by ``sitewatch demo --out DEMO_DIR``. Each variant is a set of keyword
arguments of :func:`sitewatch.change.detect_changes`, run on the same pairs in the same run.

**Training ground** (SIMULATED): every consecutive pair of the optical series of ``sergeyevka-base``,
read and masked as ``sitewatch change`` reads them (:func:`sitewatch.change_stage.read_change_image`,
the stored detections left out), scored as ``sitewatch eval`` scores them
(:func:`sitewatch.change_eval.score_pair`). ``--regions`` prints each region of the first variant with
the share of it on each of the simulator's land covers (the scenario's layout: forest, fields, bare
ground, built), its direction and magnitude, and its mean NDVI before and after.

**OSCD**: the pairs and scoring of ``benchmarks/change_oscd.py``, per city and pooled; then its LEVIR-CD
and DSIFN-CD smoke tests (regions of 25 m² and more), pooled.

**Noise-only pairs**: synthetic 4-band pairs of 200 × 200 pixels and three land covers in blobs
(forest, fields, bare ground; textured), each cover's reflectance changed by its own gain and offset
per band (as the season does), the sun's gain on all, and pixel noise; nothing else changes, so every
region is a false alarm. Also the same pairs with a square of new roof (appeared) and a row of dug
earth in a field: found or not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS: dict[str, dict[str, Any]] = {"version 2": {"classes": 0, "learned": False}, "version 3": {"learned": False}}
"""Name -> keyword arguments of ``detect_changes``: ``irmad-cva`` 2 (no class-centred test) and 3 (its
defaults before the learned score, which version 5 puts in place of their thresholds at 5-15 m);
``--classes`` adds the same with other numbers of classes."""


# -- the demo's training ground ----------------------------------------------------------------


def _covers(site_id: str, crs: str) -> dict[str, Any]:
    """The simulator's land covers of a demo site (absolute UTM of ``crs``), as it draws them: built-up
    land first, then bare ground, forest and fields, each without what the ones before it hold."""
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    from sitewatch.sources.scenario import layout_origin, load_scenario

    site = load_scenario("seed-story").site(site_id)
    zone, cx, cy = layout_origin(site.polygon)
    if zone != crs:
        raise SystemExit(f"{site_id}: the layout's zone {zone} is not the grid's {crs}")
    lay = site.layout

    def absolute(polys: Any) -> Any:
        return unary_union([Polygon([(cx + x, cy + y) for x, y in p]) for p in polys]) if polys else Polygon()

    taken = absolute(lay.built)
    out = {"built": taken}
    for key in ("bare", "forest", "fields"):
        part = absolute(getattr(lay, key)).difference(taken)
        out[key] = part
        taken = taken.union(part)
    return out


def demo_pairs(root: Path, site_id: str = "sergeyevka-base") -> list[dict[str, Any]]:
    """Each consecutive optical pair of the site, read as ``sitewatch change`` reads it, with its truth."""
    from sitewatch.change_eval import truth_changes
    from sitewatch.change_stage import (
        _masked_footprints,
        _objects_mask,
        choose_pairs,
        read_change_image,
    )
    from sitewatch.evaluate import _metric_crs, read_truth
    from sitewatch.ingest import site_mask
    from sitewatch.workspace import open_workspace

    ws = open_workspace(root)
    out = []
    footprints: dict[str, list[Any]] = {}
    with ws.store() as store:
        site = store.get_site(site_id)
        pairs, _ = choose_pairs(store.observations(site_id), site_id)
        for before, after in pairs:
            if before.scene.sensor != "optical":
                continue
            b = read_change_image(site, before, root / before.path)
            a = read_change_image(site, after, root / after.path)
            # The stored vessels and cranes of both dates left out, as `sitewatch change` leaves them.
            masked = [*_masked_footprints(store, before, footprints), *_masked_footprints(store, after, footprints)]
            exclude = _objects_mask(masked, before)
            crs = _metric_crs(after)
            truth = truth_changes(*(read_truth(root / str(o.provenance["truth"])) for o in (before, after)), crs)
            out.append({"before": before, "after": after, "b": b, "a": a, "area": site_mask(site, before.grid),
                        "exclude": exclude, "truth": truth, "res": after.scene.resolution_m})  # fmt: skip
    return out


def _ndvi(img: Any, mask: NDArray[np.bool_]) -> float:
    names = list(img.band_names)
    red, nir = img.data[names.index("red")][mask], img.data[names.index("nir")][mask]
    return float(np.nanmean((nir - red) / (nir + red)))


def demo_regions(pairs: list[dict[str, Any]], kwargs: dict[str, Any]) -> None:
    """Every region of every pair: where, on what, which way, NDVI before and after."""
    from rasterio.features import geometry_mask

    from sitewatch.change import detect_changes

    covers = _covers("sergeyevka-base", pairs[0]["b"].grid.crs)
    print(f"{'pair':<28} {'res':>4} {'m2':>7} {'mag':>5} {'dir':<11} {'true':<5} "
          + " ".join(f"{k:>6}" for k in covers) + "  NDVI before -> after  (cover's whole NDVI before -> after)")  # fmt: skip
    for p in pairs:
        r = detect_changes(p["b"], p["a"], area=p["area"], exclude=p["exclude"], **kwargs)
        name = f"{p['before'].scene.acquired:%m-%d} -> {p['after'].scene.acquired:%m-%d}"
        for reg in r.regions:
            shares = {k: reg.polygon.intersection(g).area / reg.polygon.area for k, g in covers.items()}
            true = any(reg.polygon.intersects(g) for _, g in p["truth"])
            mask = ~geometry_mask([reg.polygon], p["b"].grid.shape, p["b"].grid.affine)
            main = max(shares, key=lambda k: shares[k])
            whole = ~geometry_mask([covers[main]], p["b"].grid.shape, p["b"].grid.affine) & p["area"] & ~mask & p["b"].usable() & p["a"].usable()
            print(f"{name:<28} {p['res']:>4g} {reg.area_m2:>7.0f} {reg.magnitude:>5.1f} {reg.direction:<11} {str(true):<5} "
                  + " ".join(f"{shares[k]:>6.2f}" for k in covers)
                  + f"  {_ndvi(p['b'], mask):.3f} -> {_ndvi(p['a'], mask):.3f}"
                  + f"  ({main} {_ndvi(p['b'], whole):.3f} -> {_ndvi(p['a'], whole):.3f})")  # fmt: skip


def demo_scores(pairs: list[dict[str, Any]], variants: dict[str, dict[str, Any]]) -> None:
    """Each variant's ``sitewatch eval`` line per resolution, and its time."""
    from sitewatch.change import detect_changes
    from sitewatch.change_eval import ChangeScore, score_pair

    for name, kwargs in variants.items():
        by_res: dict[float, ChangeScore] = {}
        t0 = time.perf_counter()
        for p in pairs:
            r = detect_changes(p["b"], p["a"], area=p["area"], exclude=p["exclude"], **kwargs)
            g = p["b"].grid
            a, b, _, d, e, _ = g.transform
            compared_m2 = r.compared_fraction * float(p["area"].sum()) * abs(a * e - b * d)
            score = score_pair([reg.polygon for reg in r.regions], p["truth"], compared_m2)
            by_res[p["res"]] = by_res.get(p["res"], ChangeScore()) + score
        seconds = time.perf_counter() - t0
        print(f"\n[{name}] {seconds:.1f} s")
        for res in sorted(by_res):
            print(by_res[res].line(f"  {res:g} m optical:"))


# -- OSCD --------------------------------------------------------------------------------------


def oscd(variants: dict[str, dict[str, Any]]) -> None:
    """Each variant per OSCD city and pooled (``benchmarks/change_oscd.py``'s pairs and scoring)."""
    from functools import partial

    import change_oscd as co

    methods = {f"sitewatch {n}": partial(_oscd_changed, kwargs=k) for n, k in variants.items()}
    co.run([co.oscd_pair(c) for c in co.oscd_cities()], "OSCD, Sentinel-2 10 m bands (B02 B03 B04 B08)", methods=methods)
    for name, folder in co.PNG_SETS:
        pairs = [p for root in co.pair_folders(co.DATASETS / folder) for p in co.png_pairs(root)]
        if pairs:
            smoke = {f"sitewatch {n}": partial(_oscd_changed, kwargs=k | {"min_area_m2": 25.0}) for n, k in variants.items()}
            co.run(pairs, f"{name}, 0.5 m RGB", per_pair=False, methods=smoke)


def _oscd_changed(pair: Any, kwargs: dict[str, Any]) -> NDArray[np.bool_]:
    from sitewatch.change import ChangeImage, detect_changes
    from sitewatch.model import Grid

    h, w = pair.label.shape
    grid = Grid("EPSG:32631", (pair.pixel_m, 0.0, 500_000.0, 0.0, -pair.pixel_m, 5_000_000.0), w, h)
    before = ChangeImage(pair.before, grid, "optical", pair.bands, label=f"{pair.name} date 1")
    after = ChangeImage(pair.after, grid, "optical", pair.bands, label=f"{pair.name} date 2")
    return detect_changes(before, after, **kwargs).changed


# -- synthetic pairs ---------------------------------------------------------------------------

_COVERS = np.array([  # blue, green, red, nir of forest, fields and bare ground (made-up round numbers)
    [0.030, 0.055, 0.035, 0.300], [0.040, 0.075, 0.060, 0.280], [0.100, 0.125, 0.150, 0.210],
])


def synthetic_pair(seed: int, size: int = 200, change: bool = False) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Before, after (4 × size × size) and the changed pixels: forest, fields and bare ground in smooth blobs
    (30, 45 and 25 % of the pixels), textured; forest and fields each multiplied by their own gain per band
    (drawn from 0.8-1.3: a week or two of autumn), bare ground not; a sun gain (0.9-1.0) on the whole
    after image; pixel noise of 0.004 on both. ``change``: a 12 × 12 roof built on bare ground and a
    2 × 20-pixel row of dug earth in a field."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.normal(size=(size, size)), size / 12)
    cover = np.digitize(blobs, np.quantile(blobs, [0.3, 0.75]))  # 0 forest, 1 fields, 2 bare
    tex = 1.0 + 0.08 * ndimage.gaussian_filter(rng.normal(size=(size, size)), 2.0) / 0.14
    gains = np.vstack([rng.uniform(0.8, 1.3, (2, 4)), np.ones((1, 4))]) * rng.uniform(0.9, 1.0)
    before = _COVERS[cover].transpose(2, 0, 1) * tex
    after = (_COVERS * gains)[cover].transpose(2, 0, 1) * tex
    truth = np.zeros((size, size), bool)
    if change:
        bare = np.argwhere(ndimage.binary_erosion(cover == 2, iterations=8))
        if bare.size:
            r, c = bare[len(bare) // 2]
            after[:, r - 6 : r + 6, c - 6 : c + 6] = np.array([0.20, 0.21, 0.22, 0.25])[:, None, None]
            truth[r - 6 : r + 6, c - 6 : c + 6] = True
        fields = np.argwhere(ndimage.binary_erosion(cover == 1, iterations=12))
        if fields.size:
            r, c = fields[len(fields) // 3]
            after[:, r : r + 2, c - 10 : c + 10] = np.array([0.075, 0.095, 0.120, 0.160])[:, None, None]
            truth[r : r + 2, c - 10 : c + 10] = True
    before += rng.normal(0, 0.004, before.shape)
    after += rng.normal(0, 0.004, after.shape)
    return before, after, truth


def noise(variants: dict[str, dict[str, Any]], n: int) -> None:
    """False regions per pair on ``n`` synthetic pairs where only the covers' season changed; and on the same
    pairs with two true changes, how many regions touch them and how many are elsewhere."""
    from scipy import ndimage

    from sitewatch.change import ChangeImage, detect_changes
    from sitewatch.model import Grid

    grid = Grid("EPSG:32631", (10.0, 0.0, 500_000.0, 0.0, -10.0, 5_000_000.0), 200, 200)
    bands = ("blue", "green", "red", "nir")
    for name, kwargs in variants.items():
        false_quiet = 0
        found = false_changed = total = 0
        t0 = time.perf_counter()
        for seed in range(n):
            for change in (False, True):
                b, a, truth = synthetic_pair(seed, change=change)
                r = detect_changes(ChangeImage(b, grid, "optical", bands), ChangeImage(a, grid, "optical", bands), **kwargs)
                labels, k = ndimage.label(r.changed, structure=np.ones((3, 3), bool))
                on = set(np.unique(labels[truth]).tolist()) - {0}
                if change:
                    objects, n_obj = ndimage.label(truth)
                    found += sum(int(r.changed[objects == i].any()) for i in range(1, n_obj + 1))
                    total += n_obj
                    false_changed += k - len(on)
                else:
                    false_quiet += k
        print(f"[{name}] season only: {false_quiet} regions in {n} pairs; with changes: found {found} of {total}, "
              f"{false_changed} regions elsewhere; {time.perf_counter() - t0:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", type=Path, help="a workspace made by `sitewatch demo --out DIR`")
    parser.add_argument("--regions", type=int, default=0, help="list the regions of the first N variants on the demo")
    parser.add_argument("--oscd", action="store_true", help="score the variants on OSCD")
    parser.add_argument("--noise", type=int, default=0, help="score the variants on this many synthetic pairs")
    parser.add_argument("--classes", type=int, nargs="*", default=[], help="also run version 3 with these numbers of classes")
    args = parser.parse_args()
    VARIANTS.update({f"version 3, {k} classes": {"classes": k, "learned": False} for k in args.classes})
    if args.demo:
        pairs = demo_pairs(args.demo)
        if args.regions:
            for name, kwargs in list(VARIANTS.items())[: args.regions]:
                print(f"\n[{name}]")
                demo_regions(pairs, kwargs)
        else:
            demo_scores(pairs, VARIANTS)
    if args.oscd:
        oscd(VARIANTS)
    if args.noise:
        noise(VARIANTS, args.noise)


if __name__ == "__main__":
    main()
