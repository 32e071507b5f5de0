"""RGB-only optical detection (no NIR band): its own learned models, scored held out.

    python benchmarks/optical_rgb.py                 # leave-one-port-out, RGB only, + Qingdao's preview
    python benchmarks/optical_rgb.py --train         # write the shipped RGB weights (all 11 ports)
    python benchmarks/optical_rgb.py --models DIR    # keep the fold models in DIR and reuse them

Without NIR the detector stands red in for it, so the four-band models see
inputs unlike any they were trained on. The RGB models are the same two
stages (``optical_train.fit``) trained on the sen2ships ports with NIR
removed, each port seen three ways (:data:`TRAIN_VIEWS`):

- ``rgb``: the reflectance bands without NIR, as a calibrated RGB export reads;
- ``stretch_jpeg``: each band cut at its 2nd and 98th percentile and stretched
  to 0..1 (a GIS display's default), saved as an 8-bit JPEG at quality 75;
- ``gain_jpeg``: 2.5 x reflectance, clipped (Sentinel Hub's true colour), as
  an 8-bit JPEG at quality 75.

``stretch`` and ``gain`` are the same renderings without the JPEG (8-bit,
lossless). Variants (``--variants``): ``jpeg`` (:data:`TRAIN_VIEWS`, shipped),
``all`` (rgb + lossless stretch + gain, chosen first), ``rgb`` (reflectance
alone). The JPEG step was added after ``all`` gave F1 0.16 on Qingdao; ``jpeg``
was preferred to ``all`` on the mean leave-one-port-out F1 over the inputs
rgb, stretch_jpeg and gain_jpeg (BENCHMARKS.md).

Scores, both against the current detector (the four-band models run RGB-only,
each fold's trained on the other ten ports) in the same run:

1. leave-one-port-out on the 11 ports, each held-out port given as each view
   of ``--views``;
2. Qingdao's 8-bit true-colour preview (28 labelled ships, a port no model
   was trained on), through the ``detect-image`` path at 8.1 m, the shipped
   RGB weights against the shipped four-band weights.

Matching as in ``optical_sen2ships.py``: one-to-one, a detection's centroid
(col + 0.5, row + 0.5) inside a labelled box, best score first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import ROOT, Port, load_port, select_ports  # noqa: E402
from optical_sen2ships import HEADER, Score, _line, pooled, score  # noqa: E402
from optical_train import Prepared, fit, fold_model, save  # noqa: E402
from sitewatch.detect.optical import (  # noqa: E402
    MODEL_FILE,
    RGB_MODEL_FILE,
    OpticalParams,
    _px,
    detect_optical,
    pixel_features,
)
from sitewatch.detect.optical_water import dilate  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data" / RGB_MODEL_FILE
Bands = dict[str, NDArray[np.float32]]
QINGDAO = ROOT / "qingdao"
QINGDAO_PIXEL_M = 8.1


def rgb(bands: Mapping[str, NDArray[np.float32]]) -> Bands:
    """The bands without NIR."""
    return {k: np.asarray(v, np.float32) for k, v in bands.items() if k != "nir"}


def _eight_bit(a: NDArray[np.floating]) -> NDArray[np.float32]:
    """0..1 values as an 8-bit file stores them, read back as the detector reads uint8."""
    return (np.round(np.clip(a, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def stretch(bands: Mapping[str, NDArray[np.float32]], lo: float = 2.0, hi: float = 98.0) -> Bands:
    """Each RGB band cut at its ``lo`` and ``hi`` percentiles, stretched to 0..1, in 8 bits."""
    out = {}
    for k, v in rgb(bands).items():
        a, b = np.nanpercentile(v, [lo, hi])
        out[k] = _eight_bit((v - a) / max(float(b - a), 1e-6))
    return out


def gain(bands: Mapping[str, NDArray[np.float32]], factor: float = 2.5) -> Bands:
    """``factor`` x reflectance, clipped at 1, in 8 bits."""
    return {k: _eight_bit(factor * v) for k, v in rgb(bands).items()}


def jpeg(bands: Mapping[str, NDArray[np.float32]], quality: int = 75) -> Bands:
    """8-bit RGB bands through a JPEG file (PIL's default quality, 4:2:0 chroma) and back."""
    import io

    from PIL import Image

    order = ("red", "green", "blue")
    # A port without blue (the detector stands green in for it) is written with green there.
    u8 = np.stack(
        [np.round(np.clip(bands.get(k, bands["green"]), 0.0, 1.0) * 255.0) for k in order], axis=-1
    ).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=quality)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return {k: (back[..., i] / np.float32(255.0)).astype(np.float32) for i, k in enumerate(order) if k in bands}


VIEWS: dict[str, Callable[[Mapping[str, NDArray[np.float32]]], Bands]] = {
    "rgb": rgb,
    "stretch": stretch,
    "gain": gain,
    "stretch_jpeg": lambda b: jpeg(stretch(b)),
    "gain_jpeg": lambda b: jpeg(gain(b)),
}
TRAIN_VIEWS = ("rgb", "stretch_jpeg", "gain_jpeg")


def prepare_view(port: Port, view: str) -> Prepared:
    """A port seen through ``view`` with its pixel features (as ``optical_train.prepare``)."""
    bands = VIEWS[view](port.bands)
    feats, water = pixel_features(bands, port.pixel_size)
    p = float(np.mean(port.pixel_size))
    search = dilate(water, _px(2 * OpticalParams().near_water_m, p))
    ship = np.any(port.masks, axis=0) if port.masks else np.zeros(water.shape, bool)
    return Prepared(replace(port, bands=bands), feats, water, search, ship)


def qingdao_boxes() -> NDArray[np.float64]:
    """Qingdao's labelled ships as x0, y0, x1, y1 boxes (pixels of the preview's grid)."""
    coco = json.loads((QINGDAO / "qingdao_coco.json").read_text(encoding="utf-8"))
    boxes = [(x, y, x + w, y + h) for x, y, w, h in (a["bbox"] for a in coco["annotations"])]
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def score_qingdao(params: OpticalParams) -> Score:
    """Qingdao's 8-bit true-colour preview through the ``detect-image`` path."""
    from sitewatch.detect.optical_image import detect_optical_image

    image = next(QINGDAO.glob("*True_color.jpg"))
    res = detect_optical_image(image, pixel_size=QINGDAO_PIXEL_M, params=params)
    boxes = qingdao_boxes()
    # Boxes stand in for the masks: the length errors are not meaningful here.
    masks = [np.zeros((res.info.height, res.info.width), bool) for _ in boxes]
    for m, (x0, y0, x1, y1) in zip(masks, boxes.astype(int), strict=True):
        m[y0:y1, x0:x1] = True
    port = Port("qingdao", {}, (QINGDAO_PIXEL_M, QINGDAO_PIXEL_M), masks, boxes)
    return score(port, res.detections)


def main() -> None:
    ap = argparse.ArgumentParser(description="RGB-only optical detection on sen2ships and Qingdao")
    ap.add_argument("--train", action="store_true", help=f"fit on every port and write {OUT.name}")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--models", type=Path, default=None, help="keep the fold models here and reuse them")
    ap.add_argument("--variants", nargs="*", default=["jpeg"], choices=["jpeg", "all", "rgb"], help="training sets: jpeg (shipped), all, rgb")
    ap.add_argument("--views", nargs="*", default=list(VIEWS), choices=list(VIEWS), help=f"inputs to score, of {list(VIEWS)}")
    ap.add_argument("--ports", nargs="*", default=None)
    ap.add_argument("--no-lopo", action="store_true", help="only Qingdao")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = select_ports()
    select_ports(args.ports)
    params = OpticalParams()
    train_views = {"all": ("rgb", "stretch", "gain"), "rgb": ("rgb",), "jpeg": TRAIN_VIEWS}
    if args.train:
        ports = [load_port(n) for n in names]
        save(fit([prepare_view(p, v) for p in ports for v in TRAIN_VIEWS], params, seed=args.seed), args.out)
        print(f"trained on {len(names)} ports x {TRAIN_VIEWS}: {args.out}")
        return
    suffix = "" if args.seed == 0 else f"_s{args.seed}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.models or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not args.no_lopo:
            lopo(args.ports or names, names, params, folder, args.variants, train_views, args.views, suffix, args.seed)
    if not OUT.exists():
        print(f"\n{OUT.name} not trained yet (--train): Qingdao not scored")
    elif QINGDAO.is_dir():
        print("\nQingdao 8-bit true-colour preview (no model trained on it), detect-image path")
        print(HEADER)
        print(_line("current", score_qingdao(replace(params, rgb_model=MODEL_FILE))))
        print(_line("rgb model", score_qingdao(params)))
    else:
        print(f"\nno Qingdao preview at {QINGDAO}: not scored")


def lopo(
    scored: list[str],
    names: list[str],
    params: OpticalParams,
    folder: Path,
    variants: list[str],
    train_views: dict[str, tuple[str, ...]],
    views: list[str],
    suffix: str,
    seed: int,
) -> None:
    """Leave-one-port-out, RGB only: the current four-band fold models against RGB fold models."""
    ports = {n: load_port(n) for n in names}
    models: dict[str, dict[str, Path]] = {"current": {}}
    four: dict[str, Prepared] = {}
    for n in scored:
        models["current"][n] = fold_model(folder, n, names, four, params, seed=seed, suffix=suffix)
    four.clear()
    for v in variants:
        models[v] = {}
        prepared: dict[tuple[str, str], Prepared] = {}
        for n in scored:
            path = folder / f"lopo_rgb_{v}_{n}{suffix}.npz"
            if not path.exists():
                if not prepared:
                    prepared = {(k, w): prepare_view(ports[k], w) for k in names for w in train_views[v]}
                save(fit([d for (k, _), d in prepared.items() if k != n], params, seed=seed), path)
            models[v][n] = path
        prepared.clear()
        print(f"fold models '{v}' ready", flush=True)
    results: dict[tuple[str, str], list[Score]] = {}
    for view in views:
        for m in models:
            print(f"\nleave-one-port-out, held-out port given as '{view}', model '{m}'")
            print(HEADER)
            scores = []
            for n in scored:
                bands = VIEWS[view](ports[n].bands)
                run = replace(params, rgb_model=str(models[m][n]))
                s = score(ports[n], detect_optical(bands, ports[n].pixel_size, params=run))
                scores.append(s)
                print(_line(n, s), flush=True)
            results[(view, m)] = scores
            print(_line("POOLED", pooled(scores)), flush=True)
    print("\nsummary (pooled, leave-one-port-out)")
    print(f"{'input':<8} {'model':<8}" + HEADER[12:])
    for (view, m), scores in results.items():
        print(f"{view:<8} {m:<8}" + _line("", pooled(scores))[12:])


if __name__ == "__main__":
    main()
