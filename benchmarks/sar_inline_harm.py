"""Does the in-line split cut single ships in two? Judged on chips it was not designed on (5 Dec, `inline`).

Run:  python benchmarks/sar_inline_harm.py [--datasets DIR] [--skip-box-chips] [--list] [--dip D] [--simulated]

The in-line split (:func:`_sar_pairs.split_pairs` with ``inline``: a kept candidate 1.5-2.6 of the chip's typical
ship lengths long is cut across its long axis where the profile along it dips by 0.15, each part 0.6-1.4 typical
lengths) was designed after a diagnosis of HRSID P0119's held-out misses (17 of 19 ships merged end to end), so
its figures on the 16 box chips count as in-sample. This script measures its harm where it was not designed,
under the gate declared before the first run (BENCHMARKS.md, "The in-line split judged on chips it was not
designed on"); the split and the join after it are run by ``sar_render_train.detect_variant``, the detector
without the split by :func:`sitewatch.detect.sar_render.detect_rendering` (sar-cfar 1.13.0), and the two are
checked to agree when the split is off.

1. **OpenSARShip's own 8-bit renderings** (``Patch_Uint8/…_vv.tif`` of every GRD chip with an annotated bow-stern
   line; one AIS-matched ship centred per chip). The packaged trees were trained on these renderings, so they
   measure only the split's harm (it has no fitted constant). Per chip: the centred ship detected
   (``sar_real.centred_detection``); the centred ship *cut* (the split parted a kept candidate and both parts
   remain, their centroids within 30 m across and half the ship's length along the annotated line from its
   midpoint; the length is AIS's, else the annotated one); a split whose parts are not both on the hull is
   counted as "beyond the hull"; the centred detection's length error against AIS (chips with an AIS length whose
   centred ship both runs detect); detections per chip. Two settings: *as shipped* (each chip's own typical ship:
   with fewer than 3 sure ships on a chip, the rule does nothing) and *stress* (the scene's typical ship, the
   medians over the sure first-pass candidates of all its renderings, given to every chip).
2. **The 15 box chips other than P0119**, leave-one-chip-out (trees fitted as ``sar_render_train.py`` fits
   them, 16 folds: about 3 minutes on 2 cores): TP / FP / FN chip by chip with and without the split, summed over
   the 15 and over all 16 (the latter "direction chosen on P0119's held-out misses").

``--list`` prints every split on OpenSARShip and on the box chips, with the split candidate's moment length and
width over the typical ship's. ``--simulated`` runs only part 3, a simulated unit-level check that the rule does
what it says (:func:`simulated_check`; simulated, so no evidence of harm on real imagery). ``--dip D`` (after the gate, exploration only:
not a result) runs everything with the split's dip threshold at D instead of 0.15.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import sar_render_train as srt
from sar_real import (
    BOX_CHIPS,
    DEFAULT_DATASETS,
    ON_SHIP_M,
    OPENSARSHIP,
    Chip,
    Counts,
    centred_detection,
    hrsid_chips,
    missing_datasets,
    opensarship_chips,
    ssdd_chips,
)
from sitewatch.detect.sar_render import (
    RENDER_FEATURES,
    RenderParams,
    _render_model,
    detect_rendering,
    render_probability,
    rendering_candidates,
)

PLAIN = srt.Variant()
"""The shipped detector, sar-cfar 1.13.0 (two passes and the typical-hull join)."""
INLINE = srt.Variant(split_inline=True, join_typical=True)
"""The same with the in-line split before the join."""


def grd_renderings(root: Path) -> list[Chip]:
    """OpenSARShip GRD chips with an 8-bit co-polarised rendering and an annotated bow-stern line.

    ``sar_real.opensarship_chips`` reads the renderings named ``…_vv.tif`` (the dual-polarisation scenes', which
    the trees were trained on); the VV-only scene's are named without the suffix (``Visual_<chip>.tif``) and are
    read here (:func:`unsuffixed_renderings`): the trees never saw those."""
    chips = [c for c in opensarship_chips(root) if c.kind == "GRD" and all(math.isfinite(v) for v in c.head_tail)]
    more = unsuffixed_renderings(root)
    for c in chips:
        if c.rendering is None and (c.scene, c.name) in more:
            c.rendering = more[(c.scene, c.name)]
    return [c for c in chips if c.rendering is not None and c.rendering.dtype == np.uint8]


def unsuffixed_renderings(root: Path) -> dict[tuple[str, str], np.ndarray]:
    """(scene, chip file name) -> its 8-bit rendering ``Patch_Uint8/Visual_<chip>.tif`` (no ``_vv`` / ``_vh``
    suffix: single-polarisation scenes)."""
    import warnings
    import zipfile

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    out = {}
    for zp in sorted(q for q in (root / OPENSARSHIP).rglob("*") if q.suffix.lower() == ".zip" and q.is_file()):
        with zipfile.ZipFile(zp) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for member in zf.namelist():
                name = member.rsplit("/", 1)[-1]
                if "/Patch_Uint8/" not in "/" + member or not name.startswith("Visual_") or name.endswith(("_vv.tif", "_vh.tif", "_hh.tif", "_hv.tif")):
                    continue
                if not name.endswith(".tif"):
                    continue
                with MemoryFile(zf.read(member)) as mf, mf.open() as ds:
                    out[(zp.stem, name[len("Visual_") :])] = ds.read(1)
    return out


def sure_sizes(img: np.ndarray, model: dict[str, object]) -> np.ndarray:
    """(width, length) in pixels, moment sizes as :func:`typical_hull` reads them, of the first-pass candidates
    the trees are sure of (scored at least :attr:`RenderParams.sure_score`)."""
    p = RenderParams()
    _, feats, _ = rendering_candidates(img, p)
    if not len(feats):
        return np.zeros((0, 2))
    sure = render_probability(feats, model) >= p.sure_score
    length = np.exp(feats[sure, RENDER_FEATURES.index("log_length_px")])
    return np.column_stack([length / feats[sure, RENDER_FEATURES.index("elongation")], length])


def on_hull(c: Chip, row: float, col: float) -> bool:
    """Whether a centroid lies on the chip's annotated ship: within ``ON_SHIP_M`` across and half the ship's
    length (AIS, else the annotated bow-stern length) along its line from the line's midpoint."""
    hx, hy, tx, ty = c.head_tail
    sx, sy = c.pixel
    vx, vy = (tx - hx) * sx, (ty - hy) * sy
    norm = math.hypot(vx, vy)
    half = (c.ais_length if c.ais_length > 0 else norm) / 2
    dx, dy = (col - (hx + tx) / 2) * sx, (row - (hy + ty) / 2) * sy
    if norm < 1e-9:
        return math.hypot(dx, dy) <= ON_SHIP_M
    along = (dx * vx + dy * vy) / norm
    across = abs(dx * vy - dy * vx) / norm
    return abs(along) <= half and across <= ON_SHIP_M


def whole_shape(d: dict[str, list], i: int, j: int) -> str:
    """The split candidate's moment length and width (its two parts' pixels pooled) over the typical ship's."""
    from sitewatch.detect.sar_render import _moment_size, _pooled

    typ = d["typical"][0]
    if typ is None or "moments" not in d:
        return ""
    length, width = _moment_size(*_pooled(d["moments"][i], d["moments"][j]))
    return f"L/typ {length / typ[1]:.2f} W/typ {width / typ[0]:.2f}"


def _run(c: Chip, model: dict[str, object], variant: srt.Variant, typical: tuple[float, float] | None) -> dict[str, list]:
    detail: dict[str, list] = {}
    srt.detect_variant(c.rendering, model, variant, typical=typical, detail=detail)  # type: ignore[arg-type]
    return detail


def opensarship_harm(root: Path, list_chips: bool) -> None:
    """Part 1 (module docstring): the split's harm on OpenSARShip's renderings, as shipped and under stress."""
    t0 = time.perf_counter()
    chips = grd_renderings(root)
    model = _render_model()
    scene_typ: dict[str, tuple[float, float]] = {}
    for scene in sorted({c.scene for c in chips}):
        sizes = np.vstack([sure_sizes(c.rendering, model) for c in chips if c.scene == scene])  # type: ignore[arg-type]
        if len(sizes) >= RenderParams().min_sure:
            scene_typ[scene] = (float(np.median(sizes[:, 0])), float(np.median(sizes[:, 1])))
    print(f"OpenSARShip GRD 8-bit renderings: {len(chips)} chips in {len({c.scene for c in chips})} scenes (packaged trees, trained on these renderings: harm only)")
    for scene, (w, length) in scene_typ.items():
        print(f"    scene typical ship {scene[:40]}: width {w:.1f} px, length {length:.1f} px ({length * 10:.0f} m)")
    own_typ = 0
    plain: list[dict[str, list]] = []
    for c in chips:
        d = _run(c, model, PLAIN, None)
        ref = detect_rendering(c.rendering, (1.0, 1.0))  # type: ignore[arg-type]
        same = [(round(a.row, 6), round(a.col, 6)) for a in d["found"]] == [(round(a.row, 6), round(a.col, 6)) for a, _ in ref]
        if not same:
            raise SystemExit(f"detect_variant differs from detect_rendering on {c.name}: the comparison would not be with 1.13.0")
        plain.append(d)
        _, feats, _ = rendering_candidates(c.rendering, RenderParams())  # type: ignore[arg-type]
        own_typ += bool(len(feats)) and int((render_probability(feats, model) >= RenderParams().sure_score).sum()) >= RenderParams().min_sure
    print(f"    chips with a typical ship of their own (>= {RenderParams().min_sure} sure ships; where the split can act as shipped): {own_typ} of {len(chips)}")
    rows = [("1.13.0 (no split)", plain, None)]
    for label, stress in (("in-line split + join, as shipped", False), ("in-line split + join, stress (scene typical)", True)):
        rows.append((label, [_run(c, model, INLINE, scene_typ.get(c.scene) if stress else None) for c in chips], stress))
    seen = {c.scene for c in opensarship_chips(root) if c.rendering is not None}
    groups = (
        ("all", [True] * len(chips)),
        ("dual-pol scenes (trees trained on them)", [c.scene in seen for c in chips]),
        ("VV-only scene (never in training)", [c.scene not in seen for c in chips]),
    )
    for gname, sel in groups:
        if not any(sel):
            continue
        print(f"  {gname}: {sum(sel)} chips")
        _report(
            [c for c, s in zip(chips, sel, strict=True) if s],
            [(label, [r for r, s in zip(runs, sel, strict=True) if s]) for label, runs, _ in rows],
            list_chips and gname == "all",
        )
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


def _report(chips: list[Chip], rows: list[tuple[str, list[dict[str, list]]]], list_chips: bool) -> None:
    plain = rows[0][1]
    base_found = [centred_detection(c, d["found"]) for c, d in zip(chips, plain, strict=True)]
    for label, runs in rows:
        found = [centred_detection(c, d["found"]) for c, d in zip(chips, runs, strict=True)]
        detected = sum(f is not None for f in found)
        cut = beyond = splits = 0
        acted = []
        for c, d in zip(chips, runs, strict=True):
            for i, j in d.get("parts", []):
                splits += 1
                a, b = d["found"][i], d["found"][j]
                if on_hull(c, a.row, a.col) and on_hull(c, b.row, b.col):
                    cut += 1
                    acted.append((c, "CUT", a, b, whole_shape(d, i, j)))
                else:
                    beyond += 1
                    acted.append((c, "beyond", a, b, whole_shape(d, i, j)))
        both = [(f, g, c) for f, g, c in zip(found, base_found, chips, strict=True) if f is not None and g is not None and c.ais_length > 0]
        mae = float(np.mean([abs(f.length_m * c.pixel[0] - c.ais_length) for f, _, c in both])) if both else math.nan
        mae0 = float(np.mean([abs(g.length_m * c.pixel[0] - c.ais_length) for _, g, c in both])) if both else math.nan
        dets = sum(len(d["found"]) for d in runs) / len(chips)
        print(
            f"    {label:<46} centred ship detected {detected} = {detected / len(chips):.3f}; splits {splits}: centred ship cut {cut}"
            f" ({cut / max(detected, 1):.1%} of those detected), beyond the hull {beyond}; centred length MAE {mae:.1f} m"
            f" (1.13.0 on the same {len(both)} chips {mae0:.1f} m); detections per chip {dets:.3f}"
        )
        if list_chips:
            for c, what, a, b, whole in acted:
                print(
                    f"      {what:<6} {c.scene[17:32]} {c.name:<34} AIS {c.ais_length:5.0f} m; parts {a.length_m * 10:5.0f} m at ({a.row:.0f}, {a.col:.0f})"
                    f" and {b.length_m * 10:5.0f} m at ({b.row:.0f}, {b.col:.0f}); {whole}"
                )


def box_chips(root: Path, list_splits: bool = False) -> None:
    """Part 2 (module docstring): leave-one-chip-out TP / FP / FN with and without the split, chip by chip."""
    t0 = time.perf_counter()
    data = srt.rows(root, srt.GAMMAS)
    osr = srt.opensarship_rows(root, srt.GAMMAS)
    extra, keys = srt.opensarship_training(osr), srt.opensarship_keys(osr)
    models: dict[str, dict[str, object]] = {}
    srt.held_out(data, 1, extra, srt.MEMBERS, keys, models)
    base = srt.shipped_counts(root, models, RenderParams())
    split = srt.shipped_counts(root, models, INLINE)
    print("box chips, leave-one-chip-out, TP / FP / FN: 1.13.0 -> in-line split + join")
    for name in base:
        mark = "   (P0119: the split's direction was chosen on its held-out misses)" if name.startswith("P0119") else ""
        (a, b, c), (d, e, f) = base[name], split[name]
        print(f"    {name:<34} {a:3d} / {b:3d} / {c:3d} -> {d:3d} / {e:3d} / {f:3d}{mark}")
    for label, names in (("15 chips other than P0119", [n for n in base if not n.startswith("P0119")]), ("all 16 chips (direction chosen on P0119)", list(base))):
        for what, counts in (("1.13.0", base), ("in-line split + join", split)):
            total = Counts()
            for n in names:
                total.add(counts[n])
            print(f"  {label:<42} {what:<22} TP {total.tp:3d} FP {total.fp:3d} FN {total.fn:3d}  P %.3f  R %.3f  F1 %.3f" % total.prf())
    if list_splits:
        print("  every split on the box chips (held-out trees): the parts' centroids in two different boxes, one box, or not both in a box")
        for name, img, boxes in ssdd_chips(root) + hrsid_chips(root):
            d: dict[str, list] = {}
            srt.detect_variant(img, models[name], INLINE, detail=d)
            for i, j in d["parts"]:
                a, b = d["found"][i], d["found"][j]
                ia, ib = _box_of(a.row, a.col, boxes), _box_of(b.row, b.col, boxes)
                said = "two boxes" if ia is not None and ib is not None and ia != ib else "one box" if ia is not None and ia == ib else "not both in a box"
                print(f"      {name:<34} {said:<18} {whole_shape(d, i, j)}")
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


def simulated_check() -> None:
    """Part 3, simulated (``--simulated``; a unit-level check that the rule does what it says, no evidence of harm):
    on speckled sea with four sure 22 × 8 px hulls (the chip's typical ship), the split with the join against
    1.13.0 on three 44-46 px objects: two hulls end to end with 2 px of dimmer water between them (merged into one
    candidate), one uniform 44 × 10 px hull, and one 44 × 10 px hull bright at bow and stern (10 px each) and dim
    amidships, as a long ship's deck often renders. Three seeds; the detections within each object's rows."""
    model = _render_model()
    objects = {
        "two hulls end to end": [(150, 40, 22, 8, 200, 255), (172, 40, 2, 8, 90, 110), (174, 40, 22, 8, 200, 255)],
        "one uniform long hull": [(150, 120, 44, 10, 200, 255)],
        "one long hull, dim amidships": [(150, 200, 10, 10, 200, 255), (160, 200, 24, 10, 120, 170), (184, 200, 10, 10, 200, 255)],
    }
    cols = {"two hulls end to end": (30, 60), "one uniform long hull": (110, 140), "one long hull, dim amidships": (190, 220)}
    print("simulated (unit-level check of the rule, not evidence): detections on each object, 1.13.0 -> in-line split + join")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a = rng.gamma(2.0, 6.0, (256, 256))
        for r, c, h, w, lo, hi in [(30, 30 + 60 * i, 22, 8, 200, 255) for i in range(4)] + [x for v in objects.values() for x in v]:
            a[r : r + h, c : c + w] = rng.uniform(lo, hi, (h, w))
        img = np.clip(a, 0, 255).astype(np.uint8)
        said = []
        for name in objects:
            c0, c1 = cols[name]
            n = [sum(140 <= r <= 205 and c0 <= c <= c1 for r, c, _ in srt.detect_variant(img, model, v)) for v in (PLAIN, INLINE)]
            said.append(f"{name} {n[0]} -> {n[1]}")
        print(f"    seed {seed}: " + "; ".join(said))


def _box_of(row: float, col: float, boxes: list[tuple[float, float, float, float]]) -> int | None:
    """Index of the first box ``(xmin, ymin, xmax, ymax)``, inclusive pixel indices, holding the point."""
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        if x0 - 0.5 <= col <= x1 + 0.5 and y0 - 0.5 <= row <= y1 + 0.5:
            return k
    return None


def main(argv: list[str] | None = None) -> int:
    """Print both parts (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--skip-box-chips", action="store_true", help="OpenSARShip part only (1 minute)")
    ap.add_argument("--list", action="store_true", help="every split, with its candidate's shape against the typical ship")
    ap.add_argument("--simulated", action="store_true", help="only the simulated unit-level check (part 3), and stop")
    ap.add_argument("--dip", type=float, default=None, help="the split's dip threshold (exploration after the gate; committed rule: 0.15)")
    args = ap.parse_args(argv)
    if args.dip is not None:
        import functools

        import _sar_pairs

        srt.split_pairs = functools.partial(_sar_pairs.split_pairs, rule=_sar_pairs.PairRule(dip=args.dip))  # type: ignore[assignment]
        print(f"EXPLORATION (not the committed rule): the split's dip threshold at {args.dip}")
    if message := missing_datasets(args.datasets, (OPENSARSHIP,) if args.skip_box_chips else (*BOX_CHIPS, OPENSARSHIP)):
        print(message, file=sys.stderr)
        return 2
    if args.simulated:
        simulated_check()
        return 0
    opensarship_harm(args.datasets, args.list)
    if not args.skip_box_chips:
        box_chips(args.datasets, args.list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
