"""Diagnostic for mlp_self / gbt_self (seed 0 fold models, cached): pseudo-label purity and AUC of the
global score s, the local score l and their mean on each named held-out port's candidates.

    python benchmarks/optical_self_diag.py busan durban genoa
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import optical_objects as oo
from optical_train import prepare
from _sen2ships import port_names
from sitewatch.detect import optical
from sitewatch.detect.optical import OpticalParams

def auc(s, y):
    y = y > 0.5
    if y.all() or (~y).all():
        return float("nan")
    r = np.argsort(np.argsort(s, kind="stable")) + 1
    return (r[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum())

everyone = port_names()
prepared = {k: prepare(k) for k in everyone}
for base in ("mlp", "gbt"):
    print(f"== {base}")
    for n in sys.argv[1:]:
        pix, cands = oo.fold_cache(n, prepared, Path("/tmp/optical_objects"), 0)
        x = np.concatenate([oo.design(base, c["x"]) for c in cands.values()])
        y = np.concatenate([c["y"] for c in cands.values()])
        sc = oo.fit_scorer(base, x, y, 0)
        c = oo.candidates(prepared[n], optical._load_model(str(pix)), OpticalParams())
        s = sc(c["x"]); f = oo.self_trained(sc)(c["x"]); l = 2 * f - s
        yy = c["y"] > 0.5
        pos, neg = s >= 0.9, s <= 0.2
        up = (s < 0.85) & (f >= 0.85); down = (s >= 0.85) & (f < 0.85)
        print(f"{n:<10} cand {len(s):5d} ship-cands {yy.sum():4d} | pseudo-ships {pos.sum():3d} purity {yy[pos].mean():.2f} | "
              f"pseudo-clutter {neg.sum():4d} ships among them {yy[neg].sum():3d} | AUC s {auc(s,yy):.3f} l {auc(l,yy):.3f} final {auc(f,yy):.3f} | "
              f">=0.85: s {np.sum(s>=0.85)} final {np.sum(f>=0.85)}; raised {up.sum()} ({yy[up].sum()} ship) dropped {down.sum()} ({yy[down].sum()} ship) | mean l on s in [0.5,0.85): {l[(s>=0.5)&(s<0.85)].mean():.2f}")
