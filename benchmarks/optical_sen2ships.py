"""Accuracy of the optical vessel detector on the sen2ships Sentinel-2 port scenes.

    python benchmarks/optical_sen2ships.py            # leave-one-port-out (the honest figure)
    python benchmarks/optical_sen2ships.py --shipped  # also the shipped model (trained on all ports)
    python benchmarks/optical_sen2ships.py --seed 1   # fold models trained with another seed
    python benchmarks/optical_sen2ships.py --diagnose # also why each missed ship was missed
    python benchmarks/optical_sen2ships.py --object-positives one-neg --models DIR  # object stage trained otherwise
    python benchmarks/optical_sen2ships.py --shipped-only --root DIR  # the shipped model on DIR's ports

For every port whose bands are in ``../shared/datasets/sen2ships`` (``--datasets DIR`` or
``$SITEWATCH_DATASETS`` for another folder holding ``sen2ships/sen2ships/``; ``--root DIR`` for a
folder of port folders laid out as that one) it prints
precision, recall, F1 and length error, then the pooled figures. Matching is
one-to-one: a detection counts when its centroid falls in a labelled ship's
box (greedy, best score first; a box takes at most one detection). Length
error compares the detection's length with the long axis of the labelled
mask (oriented box of the mask, same ground pixel size). Pixel size comes
from the GeoTIFF georeference with Web Mercator's scale factor.

Leave-one-port-out: for each port, both learned stages are retrained on the
other ports (``optical_train.fit``) and that port is scored with them, the
detector run at its own thresholds (the :class:`OpticalParams` defaults, the
same for every port).

One training seed's pooled F1 moves by 0.02-0.03 from another's; ``--seed``
retrains the fold models with another seed so a change can be judged
against that spread. ``--diagnose`` sorts every labelled ship by the stage
that lost it (see :func:`diagnose`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _sen2ships  # noqa: E402
from _sen2ships import Port, load_port, port_names, select_ports  # noqa: E402
from optical_train import Prepared, add_object_options, fit, fold_model, prepare, save  # noqa: E402
from sitewatch.detect.base import PixelDetection, measure_components  # noqa: E402
from sitewatch.detect.optical import (  # noqa: E402
    OpticalParams,
    _load_model,
    detect_optical,
    multi_candidates,
    object_scores,
    score_pixels,
)


@dataclass(frozen=True)
class Score:
    """Counts and length errors of one port."""

    tp: int
    fp: int
    fn: int
    length_err: tuple[float, ...]
    """Detected minus labelled length (m) of each matched ship."""

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / max(1e-9, p + r)


def label_lengths(port: Port) -> NDArray[np.float64]:
    """Long axis (m) of each labelled mask's oriented box."""
    if not port.masks:
        return np.zeros(0)
    labels = np.zeros(port.masks[0].shape, np.int32)
    for i, m in enumerate(port.masks, 1):
        labels[m] = i
    return measure_components(labels, np.arange(1, len(port.masks) + 1), port.pixel_size)["length_m"]


def match(port: Port, dets: list[PixelDetection]) -> tuple[NDArray[np.bool_], dict[int, PixelDetection]]:
    """One-to-one matching of vessel detections to labelled boxes: a detection's centroid inside a
    box, best score first, the nearest box centre among several. Returns which boxes were taken
    and the detection that took each (by box index)."""
    vessels = sorted((d for d in dets if d.kind == "vessel"), key=lambda d: -d.score)
    boxes = port.boxes
    centres = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
    taken = np.zeros(len(boxes), bool)
    det_of: dict[int, PixelDetection] = {}
    for d in vessels:
        x, y = d.col + 0.5, d.row + 0.5  # pixel centre -> box coordinates (box edges at integers)
        inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3]) & ~taken
        if not inside.any():
            continue
        cand = np.flatnonzero(inside)
        j = int(cand[np.argmin(np.hypot(*(centres[cand] - (x, y)).T))])
        taken[j] = True
        det_of[j] = d
    return taken, det_of


def score(port: Port, dets: list[PixelDetection]) -> Score:
    """One-to-one matching (:func:`match`): centroid inside a labelled box, best score first."""
    taken, det_of = match(port, dets)
    lengths = label_lengths(port)
    n = sum(1 for d in dets if d.kind == "vessel")
    errs = [det_of[j].length_m - lengths[j] for j in sorted(det_of, key=lambda j: -det_of[j].score)]
    return Score(len(det_of), n - len(det_of), int((~taken).sum()), tuple(errs))


def pooled(scores: list[Score]) -> Score:
    """Sum of counts over ports."""
    return Score(
        sum(s.tp for s in scores),
        sum(s.fp for s in scores),
        sum(s.fn for s in scores),
        tuple(e for s in scores for e in s.length_err),
    )


def _line(name: str, s: Score, seconds: float | None = None) -> str:
    e = np.asarray(s.length_err)
    med = f"{np.median(e):+6.1f}" if e.size else "   n/a"
    mae = f"{np.median(np.abs(e)):5.1f}" if e.size else "  n/a"
    t = f" {seconds:5.1f}s" if seconds is not None else ""
    return (
        f"{name:<12} {s.tp + s.fn:4d} {s.tp:4d} {s.fp:4d} {s.fn:4d}  "
        f"{s.precision:5.2f} {s.recall:5.2f} {s.f1:5.2f}   {med} {mae}{t}"
    )


SHIPPED_TRAINING_PORTS = frozenset(
    ("algiers", "athens", "busan", "cartagena", "casablanca", "durban", "genoa", "hedland", "honolulu", "klang", "santos")
)
"""The ports the shipped model (``optical_vessel_mlp.npz``) was trained on (``optical_train.py``, every
port whose bands were in ../shared/datasets): its figures on any other port are held out."""


HEADER = "port         ships  tp   fp   fn   prec  rec   F1    len_err_med  |err|_med (m)"


MISS_STAGES = ("found", "cand>=0.5", "cand<0.5", "pixels", "nothing")


def diagnose(port: Port, params: OpticalParams) -> dict[str, int]:
    """How many labelled ships each stage lost, for one port and one model (``params.model``).

    - ``found``: a reported vessel's centroid lies in the ship's box;
    - ``cand>=0.5`` / ``cand<0.5``: not reported, but a candidate (any pixel-score
      level) has its centroid in the box, best object score at least / below 0.5
      (lost to the object threshold or overlap suppression / to the object model);
    - ``pixels``: no such candidate, but some pixel of the ship scores above the
      lowest pixel threshold (no component of ship size was cut there);
    - ``nothing``: no pixel of the ship above that threshold.
    """
    model = _load_model(params.model)
    sc = score_pixels(port.bands, port.pixel_size, model, params=params)
    m, x = multi_candidates(sc.prob, sc.features, sc.water, sc.hidden, port.pixel_size, params)
    obj = object_scores(x, model)
    dets = [d for d in detect_optical(port.bands, port.pixel_size, params=params) if d.kind == "vessel"]
    b = port.boxes

    def inside(col: NDArray[np.float64], row: NDArray[np.float64]) -> NDArray[np.bool_]:
        cx, cy = col[None, :] + 0.5, row[None, :] + 0.5
        return (b[:, :1] <= cx) & (cx <= b[:, 2:3]) & (b[:, 1:2] <= cy) & (cy <= b[:, 3:4])

    found = inside(np.array([d.col for d in dets]), np.array([d.row for d in dets])).any(axis=1)
    cand = inside(m["col"], m["row"])
    best = np.where(cand, obj[None, :], -1.0).max(axis=1, initial=-1.0)
    low = min(params.pixel_thresholds)
    counts = dict.fromkeys(MISS_STAGES, 0)
    for i, mask in enumerate(port.masks):
        if found[i]:
            stage = "found"
        elif best[i] >= 0.5:
            stage = "cand>=0.5"
        elif best[i] >= 0.0:
            stage = "cand<0.5"
        elif mask.any() and sc.prob[mask].max() > low:
            stage = "pixels"
        else:
            stage = "nothing"
        counts[stage] += 1
    return counts


def nested_threshold(
    prepared: dict[str, Prepared],
    train: list[str],
    params: OpticalParams,
    folder: Path,
    groups: int = 2,
    seed: int = 0,
    **fit_options: object,
) -> float:
    """Object threshold with the best pooled F1 over ``train`` alone (inner cross-validation).

    The training ports are split into ``groups`` groups; each group is scored
    by models fitted on the other groups (run at the sweep's lowest
    threshold and filtered), and the threshold of the best pooled F1 over
    all of them is returned (ties: the higher). The scored port plays no
    part, so a threshold chosen this way is honest for it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    sweep = [float(t) for t in np.round(np.arange(0.5, 0.96, 0.05), 2)]
    swept: dict[float, list[Score]] = {t: [] for t in sweep}
    for g in range(groups):
        held = train[g::groups]
        path = folder / f"group_{g}.npz"
        if not path.exists():
            save(fit([prepared[k] for k in train if k not in held], params, seed=seed, **fit_options), path)  # type: ignore[arg-type]
        for k in held:
            port = prepared[k].port
            low = replace(params, model=str(path), object_threshold=sweep[0])
            dets = detect_optical(port.bands, port.pixel_size, params=low)
            for t in sweep:
                swept[t].append(score(port, [d for d in dets if d.score >= t]))
    f1 = {t: pooled(sc).f1 for t, sc in swept.items()}
    best = max(f1.values())
    return max(t for t, v in f1.items() if v >= best - 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser(description="optical detector on sen2ships")
    ap.add_argument("--shipped", action="store_true", help="also score the shipped (all-port) model")
    ap.add_argument("--ports", nargs="*", default=None)
    ap.add_argument("--models", type=Path, default=None, help="keep the fold models here and reuse them")
    ap.add_argument("--sweep", action="store_true", help="also print pooled figures over object thresholds")
    ap.add_argument(
        "--nested", action="store_true", help="also score each port at an object threshold chosen without it"
    )
    ap.add_argument("--seed", type=int, default=0, help="training seed of the fold models")
    ap.add_argument("--diagnose", action="store_true", help="also count the labelled ships each stage lost")
    ap.add_argument("--shipped-only", action="store_true", help="score the shipped model alone (no fold is trained)")
    ap.add_argument("--datasets", type=Path, default=None,
                    help="folder holding sen2ships/sen2ships/ (default $SITEWATCH_DATASETS, else ../shared/datasets)")  # fmt: skip
    ap.add_argument("--root", type=Path, default=None,
                    help="the folder of port folders itself (as sen2ships/sen2ships: PORT/…_B03_(Raw).tiff …, labels in "
                         "coco_annotations.json or PORT/*coco*.json)")  # fmt: skip
    add_object_options(ap)
    args = ap.parse_args()
    if args.root is not None or args.datasets is not None:
        _sen2ships.use_root(args.root or args.datasets / "sen2ships" / "sen2ships")
    names = select_ports(args.ports)
    if args.shipped_only:
        shipped(names, OpticalParams())
        return
    params = OpticalParams()
    print(f"optical detector on sen2ships ({len(names)} ports), params: {params}")
    print(f"object stage trained with positives={args.object_positives}, {args.object_hidden} hidden units")
    prepared: dict[str, Prepared] = {}
    sweep = np.round(np.arange(0.5, 0.96, 0.05), 2)
    swept: dict[float, list[Score]] = {float(t): [] for t in sweep}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.models or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print("\nleave-one-port-out (model retrained without the scored port)")
        print(HEADER)
        scores = []
        suffix = "" if args.seed == 0 else f"_s{args.seed}"
        for n in names:
            path = fold_model(
                folder, n, port_names(), prepared, params, seed=args.seed, suffix=suffix,
                positives=args.object_positives, obj_hidden=args.object_hidden,
            )  # fmt: skip
            port = load_port(n)
            t0 = time.perf_counter()
            s = score(port, detect_optical(port.bands, port.pixel_size, params=replace(params, model=str(path))))
            seconds = time.perf_counter() - t0
            scores.append(s)
            if args.sweep:
                # One run at the sweep's lowest threshold, filtered: the anchorage stage's
                # ships (scored at the run's threshold) and overlap suppression differ from
                # runs at each threshold, so these figures are indicative only.
                low = replace(params, model=str(path), object_threshold=float(sweep[0]))
                dets = detect_optical(port.bands, port.pixel_size, params=low)
                for t in swept:
                    swept[t].append(score(port, [d for d in dets if d.score >= t]))
            print(_line(n, s, seconds))
        print(_line("POOLED", pooled(scores)))
        if args.diagnose:
            print("\nlabelled ships by the stage that lost them (leave-one-port-out models)")
            print(f"{'port':<12} " + " ".join(f"{k:>10}" for k in MISS_STAGES))
            total = dict.fromkeys(MISS_STAGES, 0)
            for n in names:
                counts = diagnose(load_port(n), replace(params, model=str(folder / f"lopo_{n}{suffix}.npz")))
                total = {k: total[k] + counts[k] for k in MISS_STAGES}
                print(f"{n:<12} " + " ".join(f"{counts[k]:10d}" for k in MISS_STAGES))
            print(f"{'POOLED':<12} " + " ".join(f"{total[k]:10d}" for k in MISS_STAGES))
        if args.nested:
            print("\nleave-one-port-out, object threshold chosen inside the training ports (nested)")
            print(HEADER + "  threshold")
            if not prepared:
                prepared = {k: prepare(k) for k in port_names()}
            nested = []
            for n in names:
                t = nested_threshold(
                    prepared, [k for k in prepared if k != n], params, folder / f"inner_{n}{suffix}", seed=args.seed,
                    positives=args.object_positives, obj_hidden=args.object_hidden,
                )  # fmt: skip
                port = load_port(n)
                run = replace(params, model=str(folder / f"lopo_{n}{suffix}.npz"), object_threshold=t)
                nested.append(score(port, detect_optical(port.bands, port.pixel_size, params=run)))
                print(_line(n, nested[-1]) + f"  {t:.2f}")
            print(_line("POOLED", pooled(nested)))
    if args.sweep:
        print("\npooled over object thresholds (one run at 0.5, filtered; leave-one-port-out)")
        for t, sc in swept.items():
            print(_line(f"obj>={t:.2f}", pooled(sc)))
    if args.shipped:
        shipped(names, params)


def shipped(names: list[str], params: OpticalParams) -> None:
    """Score the shipped model on each port; pooled apart over the ports it was trained on
    (in-sample, optimistic) and over any other (held out)."""
    print("\nshipped model (trained on the ports of SHIPPED_TRAINING_PORTS: in-sample there, optimistic)")
    print(HEADER)
    scores: dict[str, Score] = {}
    for n in names:
        port = load_port(n)
        scores[n] = score(port, detect_optical(port.bands, port.pixel_size, params=params))
        print(_line(n, scores[n]) + ("" if n in SHIPPED_TRAINING_PORTS else "  held out"))
    seen = [s for n, s in scores.items() if n in SHIPPED_TRAINING_PORTS]
    new = [s for n, s in scores.items() if n not in SHIPPED_TRAINING_PORTS]
    if new and seen:
        print(_line("POOLED", pooled(seen)) + "  in-sample ports")
        print(_line("POOLED", pooled(new)) + "  held out (ports it was not trained on)")
    else:
        print(_line("POOLED", pooled(seen or new)) + ("" if seen else "  held out"))


if __name__ == "__main__":
    main()
