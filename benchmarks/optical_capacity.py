"""How far the optical detector can fit its own training ports: the object stage with more units, in-sample.

    python benchmarks/optical_capacity.py                 # 8 (as shipped), 64 and 256 hidden units
    python benchmarks/optical_capacity.py --hidden 8 256 --pieces

A diagnostic, not a detector to ship: the shipped pixel model and candidates are kept, the object MLP
is refitted on every port's candidates (as ``optical_train.fit`` does, same labels: a candidate whose
centroid falls in a labelled box is a ship) with more hidden units and epochs, and the detector is
run with it on the same ports at several object thresholds. A model that memorises the candidates
(AUC 1 on them) shows what the rest of the design allows in-sample: ships without any candidate,
the anchorage stage (not learned), and pieces of one hull reported as several vessels. ``--pieces``
also scores ``optical_hull_pieces.py``'s rule. Models are written to a temporary folder, or to
``--keep DIR`` (``obj_256.npz`` …) for ``optical_errors.py OUT --model DIR/obj_256.npz``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import load_port, select_ports  # noqa: E402
from optical_hull_pieces import drop_pieces  # noqa: E402
from optical_sen2ships import _line, pooled, score  # noqa: E402
from optical_train import object_samples, prepare, save, train_mlp  # noqa: E402
from sitewatch.detect.optical import OpticalParams, _load_model, detect_optical, object_scores  # noqa: E402

EPOCHS = {8: 300, 64: 600, 256: 1500}


def auc(y: NDArray[np.float32], s: NDArray[np.float32]) -> float:
    """Area under the ROC curve (ties share ranks)."""
    r = rankdata(s)
    n1 = float(y.sum())
    n0 = y.size - n1
    return float((r[y > 0].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def main() -> None:
    ap = argparse.ArgumentParser(description="in-sample capacity of the optical object stage")
    ap.add_argument("--hidden", type=int, nargs="*", default=[8, 64, 256])
    ap.add_argument("--thresholds", type=float, nargs="*", default=[0.5, 0.7, 0.85, 0.95])
    ap.add_argument("--pieces", action="store_true", help="also score with optical_hull_pieces.py's rule")
    ap.add_argument("--keep", type=Path, default=None, help="write the models here (obj_HIDDEN.npz) and keep them")
    args = ap.parse_args()
    params = OpticalParams()
    shipped = dict(_load_model(params.model))
    names = select_ports()
    prepared = {n: prepare(n) for n in names}
    xs, ys = zip(*(object_samples(prepared[n], shipped, params) for n in names), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    print(f"{y.size} candidates, {int(y.sum())} ships; shipped object model: candidate AUC {auc(y, object_scores(x, shipped)):.3f}")
    ports = {n: load_port(n) for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for hidden in args.hidden:
            obj = train_mlp(x, y, epochs=EPOCHS.get(hidden, 600), hidden=hidden, seed=0)
            model = {k: v for k, v in shipped.items() if not k.startswith("obj_")}
            model.update({"obj_" + k: v for k, v in obj.items()})
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"obj_{hidden}.npz"
            save(model, path)
            print(f"\nobject MLP, {hidden} hidden units, {EPOCHS.get(hidden, 600)} epochs: candidate AUC "
                  f"{auc(y, object_scores(x, model)):.3f} (in-sample)")  # fmt: skip
            for t in args.thresholds:
                run = replace(params, model=str(path), object_threshold=t)
                dets = {n: detect_optical(p.bands, p.pixel_size, params=run) for n, p in ports.items()}
                print(_line(f"obj>={t:.2f}", pooled([score(ports[n], d) for n, d in dets.items()])))
                if args.pieces:
                    print(_line("  + pieces", pooled([score(ports[n], drop_pieces(d, "pieces")) for n, d in dets.items()])))


if __name__ == "__main__":
    main()
