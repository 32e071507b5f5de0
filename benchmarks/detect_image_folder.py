"""``sitewatch detect-image FOLDER --out DIR`` against one ``detect-image`` process per image.

The baseline is what README showed before folder input: a shell loop starting the command once per
chip, which pays the interpreter's start-up, the imports and the model's loading for every image.
Both run in this process's Python on the same chips (``python -m sitewatch``-style, the package on
``sys.path``); the outputs are compared feature by feature, so the speed-up is for identical results.

Chips: by default the twelve SAR-Ship-Dataset chips in ``../shared/datasets`` (``--folder`` for
another folder, ``--pixel-size`` and ``--sensor`` as detect-image takes them); ``--synthetic N``
writes N simulated 256 × 256 SAR chips with a ship each instead (SIMULATED).

    python benchmarks/detect_image_folder.py [--folder DIR] [--synthetic N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = Path(__file__).parents[1] / "src"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402

RUN = "import sys; from sitewatch.cli import main; main(sys.argv[1:])"


def _sitewatch(*args: str) -> None:
    env_path = str(SRC)
    subprocess.run([sys.executable, "-c", RUN, "-q", *args], check=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})


def _synthetic(folder: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256]
    for k in range(n):
        sea = rng.gamma(4.0, 0.02 / 4.0, (256, 256))
        r0, c0, angle = rng.uniform(60, 196), rng.uniform(60, 196), rng.uniform(0, np.pi)
        along = (yy - r0) * np.sin(angle) + (xx - c0) * np.cos(angle)
        across = -(yy - r0) * np.cos(angle) + (xx - c0) * np.sin(angle)
        sea[(np.abs(along) < 6) & (np.abs(across) < 1.2)] += 1.0
        img = np.sqrt(sea) / np.sqrt(sea).max() * 255
        Image.fromarray(img.astype(np.uint8)).save(folder / f"sim{k:03d}.png")


def _features(folder: Path) -> dict[str, list[object]]:
    return {p.stem: json.loads(p.read_text())["features"] for p in sorted(folder.glob("*.geojson"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=datasets_root() / "sar-ship-dataset-samples" / "Raw images")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N", help="N simulated chips instead of --folder")
    ap.add_argument("--pixel-size", default="10")
    ap.add_argument("--sensor", default="sar")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder
        if args.synthetic:
            folder = Path(tmp) / "chips"
            folder.mkdir()
            _synthetic(folder, args.synthetic)
        if not folder.is_dir():
            sys.exit(f"{folder}: not found (--folder DIR, or --synthetic N)")
        from sitewatch.detect.inputs import folder_images

        images = folder_images(folder)
        options = ["--sensor", args.sensor, "--pixel-size", args.pixel_size]
        one_each, whole = Path(tmp) / "one_each", Path(tmp) / "whole"
        one_each.mkdir()
        whole.mkdir()
        loop_s, folder_s = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            for image in images:
                _sitewatch("detect-image", str(image), *options, "--out", str(one_each / f"{image.stem}.geojson"))
            loop_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            _sitewatch("detect-image", str(folder), *options, "--out", str(whole))
            folder_s.append(time.perf_counter() - t)
        same = _features(one_each) == _features(whole)
        loop, batch = statistics.median(loop_s), statistics.median(folder_s)
        print(f"{len(images)} images in {folder}{' (SIMULATED)' if args.synthetic else ''}; median of {args.repeat} runs")
        print(f"baseline: one process per image  {loop:7.2f} s  ({loop / len(images):.3f} s an image)")
        print(f"one process, the folder          {batch:7.2f} s  ({batch / len(images):.3f} s an image)  {loop / batch:.1f}x")
        print(f"identical detections: {'yes' if same else 'NO'}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
