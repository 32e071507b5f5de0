"""Train the small CNN of the 8-bit rendering detector (PyTorch, CPU); print held-out figures.

Run:  python benchmarks/sar_render_cnn_train.py [--datasets DIR] [--write] [--epochs N]

Needs ``pip install torch==2.13.0`` (only here: ``_sar_render_cnn.py`` runs the network with numpy; the
detector does not use it, the boosted trees scored better held out). Candidates and labels as in ``sar_render_train.py``
(a candidate is a ship when its centroid falls in a labelled box); each candidate is seen
through ``_sar_render_cnn.candidate_patches`` (two scales, grey levels
over the local background), with the eight rot90/flip copies drawn at random in training.
Box-level P/R/F1 as ``sar_real.py`` counts them, every chip scored by models that never saw it:

* leave-one-chip-out (16 folds) and leave-one-dataset-out (SAR-Ship-Dataset ↔ HRSID);
* for the CNN alone, the boosted trees alone and their blend (mean of the two
  probabilities; not shipped), at the cuts 0.5-0.9.

``--write`` fits on all 16 chips and writes ``benchmarks/sar_render_cnn.npz``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import sar_render_train as gb
from _sar_render_cnn import (
    GREY_SCALE,
    MODEL_PATH,
    PATCH_PX,
    SCALES,
    candidate_patches,
    cnn_probability,
)
from sar_real import BOX_CHIPS, DEFAULT_DATASETS, OPENSARSHIP, missing_datasets
from sitewatch.detect.sar_render import rendering_candidates

OUT = MODEL_PATH
CUTS = (0.5, 0.6, 0.7, 0.8, 0.9)


def build_net(width: tuple[int, int, int] = (8, 16, 32)) -> Any:
    """The architecture ``_sar_render_cnn.cnn_probability`` runs (PyTorch imported here only)."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            a, b, c = width
            self.convs = nn.ModuleList([nn.Conv2d(SCALES, a, 3, padding=1), nn.Conv2d(a, b, 3, padding=1), nn.Conv2d(b, c, 3, padding=1)])
            self.fc = nn.Linear(2 * c, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for k, conv in enumerate(self.convs):
                x = torch.relu(conv(x))
                if k < 2:
                    x = torch.max_pool2d(x, 2)
            z = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
            return self.fc(z)[:, 0]

    return Net()


def export(net: Any) -> dict[str, np.ndarray]:
    m = {f"conv{k}_{t}": getattr(c, "weight" if t == "w" else "bias").detach().numpy().astype(np.float32) for k, c in enumerate(net.convs) for t in ("w", "b")}
    m["fc_w"] = net.fc.weight.detach().numpy().astype(np.float32)
    m["fc_b"] = net.fc.bias.detach().numpy().astype(np.float32)
    m["patch_px"] = np.array(PATCH_PX)
    m["grey_scale"] = np.array(GREY_SCALE)
    return m


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Adam on the class-weighted logistic loss, random rot90/flip per batch; the numpy weights."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    pos = max(float(y.sum()), 1.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / pos))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for s in range(0, len(y), 64):
            i = torch.from_numpy(order[s : s + 64])
            xb = torch.rot90(xt[i], int(rng.integers(4)), dims=(2, 3))
            if rng.random() < 0.5:
                xb = torch.flip(xb, dims=(3,))
            opt.zero_grad()
            loss = loss_fn(net(xb), yt[i])
            loss.backward()
            opt.step()
    return export(net)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--no-trees", action="store_true", help="skip the boosted trees (CNN figures only)")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("sar_render_cnn_train.py needs PyTorch, which is not installed: pip install torch==2.13.0", file=sys.stderr)
        return 2
    if message := missing_datasets(args.datasets, BOX_CHIPS if args.no_trees else (*BOX_CHIPS, OPENSARSHIP)):
        print(message, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    t0 = time.time()
    data = gb.rows(args.datasets)
    patches: dict[str, np.ndarray] = {}
    for chips in (gb.ssdd_chips(args.datasets), gb.hrsid_chips(args.datasets)):
        for name, img, _ in chips:
            _, _, extra = rendering_candidates(img)
            patches[name] = candidate_patches(img, extra["row"], extra["col"], extra["background"])
    print(f"candidates {sum(len(r[4]) for r in data)} on {len(data)} chips ({time.time() - t0:.0f} s)", flush=True)
    for label, key in (("leave-one-chip-out", 1), ("leave-one-dataset-out", 0)):
        cnn: dict[str, np.ndarray] = {}
        for g in sorted({r[key] for r in data}):
            tr = [r for r in data if r[key] != g]
            m = train(np.concatenate([patches[r[1]] for r in tr]), np.concatenate([r[4] for r in tr]), args.epochs)
            for r in data:
                if r[key] == g:
                    cnn[r[1]] = cnn_probability(patches[r[1]], m) if len(r[4]) else np.zeros(0)
        runs = {"cnn": cnn}
        if not args.no_trees:
            trees = gb.held_out(data, key, gb.opensarship_training(gb.opensarship_rows(args.datasets)))
            runs["trees"] = trees
            runs["blend"] = {k: (cnn[k] + trees[k]) / 2 for k in cnn}
        for what, prob in runs.items():
            line = "  ".join("%.1f: %.3f / %.3f / %.3f" % ((c,) + gb.score(data, prob, c).prf()) for c in CUTS)
            print(f"{label:<22} {what:<6} {line}", flush=True)
            for grp in ("sar-ship-dataset", "hrsid"):
                sub = [r for r in data if r[0] == grp]
                line = "  ".join("%.1f: %.3f / %.3f / %.3f" % ((c,) + gb.score(sub, prob, c).prf()) for c in CUTS)
                print(f"    {grp:<18} {what:<6} {line}", flush=True)
    print(f"({time.time() - t0:.0f} s)")
    if args.write:
        m = train(np.concatenate([patches[r[1]] for r in data]), np.concatenate([r[4] for r in data]), args.epochs)
        np.savez_compressed(OUT, **m)
        print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
