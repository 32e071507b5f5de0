"""A Planet scene's UDM2 against the spectral cloud test, on a synthetic PSScene delivery.

    python benchmarks/planet_udm2.py [--size 3000] [--workers 1]

Writes a ``size`` x ``size`` 3 m PlanetScope-like delivery (4-band uint16 SR, 8-band UDM2,
metadata JSON) into a temporary folder: harbour basins between quays with a ship every 450 m,
opaque white clouds over some ships (flagged cloud in the UDM2, and plain to the spectral test),
each cloud's shadow 900 m to the south-east (water and ships darkened to 60 %, flagged shadow in
the UDM2: too far from its cloud for the spectral test), and patches of sun glint (bright white
sea, clear in the UDM2). ``detect-image``'s detector runs on the scene twice, in the same run: with
the UDM2 beside the image (found by its name) and with the UDM2 moved away (the spectral test,
the baseline). Printed for each: wall seconds (and the ratio to the baseline), the cloud fraction
against the UDM2's own, and the vessels reported on the ships under cloud, in shadow and in the
clear. No real UDM2 is in ../shared/datasets, so this measures the masks' plumbing and what each
rule does with shadows and glint, not the UDM2's accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sitewatch.detect.clouds import SCL_HIDDEN, cloud_mask, udm2_to_scl
from sitewatch.detect.optical_image import detect_optical_image
from sitewatch.testing.planet import udm2_of_classes, write_planet_scene

P = 3.0
WATER = np.array([0.045, 0.040, 0.022, 0.012])
QUAY = np.array([0.150, 0.160, 0.170, 0.210])
DECK = np.array([0.20, 0.21, 0.22, 0.25])
CLOUD = np.array([0.62, 0.63, 0.64, 0.66])
GLINT = np.array([0.50, 0.52, 0.53, 0.45])


def scene(n: int) -> tuple[NDArray[np.float32], NDArray[np.uint8], dict[str, list[tuple[float, float]]]]:
    """Reflectance, UDM2 and the ships (row, col) under cloud, in shadow and in the clear."""
    rng = np.random.default_rng(0)
    img = np.empty((4, n, n), np.float32)
    cols = np.arange(n)
    land = (cols % 500) >= 400  # 1200 m basins between 300 m quays
    img[:] = np.where(land[None, None, :], QUAY[:, None, None], WATER[:, None, None])
    classes = np.ones((n, n), np.uint8)
    ships: dict[str, list[tuple[float, float]]] = {"cloud": [], "shadow": [], "clear": []}
    half_l, half_w = 20, 3  # a 120 x 18 m ship, north-south
    cloud_every = 5
    k = 0
    for r in range(60, n - 60, 150):
        for c in range(60, n - 60, 150):
            if land[max(0, c - 40) : c + 40].any():
                continue
            img[:, r - half_l : r + half_l, c - half_w : c + half_w] = DECK[:, None, None]
            k += 1
            where = "clear"
            if k % cloud_every == 0 and r + 300 + 40 < n and c + 300 + 40 < n:
                # A 240 m cloud over this ship; its shadow 300 px (900 m) south-east, on another ship.
                img[:, r - 40 : r + 40, c - 40 : c + 40] = CLOUD[:, None, None]
                classes[r - 40 : r + 40, c - 40 : c + 40] = 6
                sr, sc = r + 300, c + 300
                img[:, sr - 40 : sr + 40, sc - 40 : sc + 40] *= 0.6
                classes[sr - 40 : sr + 40, sc - 40 : sc + 40] = 3
                where = "cloud"
            ships[where].append((float(r), float(c)))
    # Ships whose water the shadows darkened are the shadow's, not the clear's.
    for r, c in list(ships["clear"]):
        if classes[int(r), int(c)] == 3:
            ships["clear"].remove((r, c))
            ships["shadow"].append((r, c))
    for r in range(200, n - 200, 900):  # glint patches in the basins, clear in the UDM2
        for c in range(150, n - 150, 1500):
            if not land[c - 60 : c + 60].any():
                img[:, r - 50 : r + 50, c - 50 : c + 50] = GLINT[:, None, None]
    img += rng.normal(0, 0.003, img.shape).astype(np.float32)
    return img, udm2_of_classes(classes), ships


def reported(dets: list, ships: list[tuple[float, float]]) -> int:  # type: ignore[type-arg]
    near = [(d.row, d.col) for d in dets if d.kind == "vessel"]
    return sum(any(abs(r - dr) < 8 and abs(c - dc) < 8 for dr, dc in near) for r, c in ships)


def run(image: Path, workers: int) -> tuple[float, float | None, list]:  # type: ignore[type-arg]
    t = time.perf_counter()
    res = detect_optical_image(image, workers=workers)
    return time.perf_counter() - t, res.cloud_fraction, res.detections


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    img, udm2, ships = scene(args.size)
    truth = float(np.isin(udm2_to_scl(udm2), SCL_HIDDEN).mean())
    print(f"{args.size} x {args.size} px at 3 m, {args.workers} worker(s); load {os.getloadavg()[0]:.2f}")
    print(f"ships: {len(ships['cloud'])} under cloud, {len(ships['shadow'])} in shadow, {len(ships['clear'])} clear; "
          f"UDM2 hidden fraction {truth:.4f}")  # fmt: skip
    # What the spectral test hides of the UDM2's shadows and of the glint (which the UDM2 calls clear).
    classes = udm2_to_scl(udm2)
    spectral = cloud_mask({k: img[i] for i, k in enumerate(("blue", "green", "red", "nir"))}, pixel_size=P)
    glint = np.all(np.abs(img - GLINT[:, None, None]) < 0.02, axis=0)
    print(f"spectral test hides {spectral[classes == 3].mean():.1%} of the UDM2's shadow pixels, "
          f"{spectral[classes == 9].mean():.1%} of its cloud pixels and {spectral[glint].mean():.1%} of the glint "
          f"(clear in the UDM2)")  # fmt: skip
    del spectral
    with tempfile.TemporaryDirectory(prefix="sitewatch-udm2-") as tmp:
        image = write_planet_scene(Path(tmp) / "order", img, udm2, crs="EPSG:32653", west=300000.0, north=4750002.0)
        del img
        mask = next(image.parent.glob("*_udm2_clip.tif"))
        rows = []
        for label in ("spectral test (UDM2 moved away)", "UDM2 beside the image", "spectral test (again)", "UDM2 (again)"):
            spectral = label.startswith("spectral")
            if spectral and mask.exists():
                mask.rename(Path(tmp) / "away.tif")
            elif not spectral and not mask.exists():
                (Path(tmp) / "away.tif").rename(mask)
            secs, cloud, dets = run(image, args.workers)
            rows.append((label, secs, cloud, dets))
    base = min(s for label, s, _, _ in rows if label.startswith("spectral"))
    print("| mask | wall (s) | ratio to spectral | cloud fraction | vessels on ships under cloud | in shadow | clear | vessels in all |")
    print("|---|---|---|---|---|---|---|---|")
    for label, secs, cloud, dets in rows:
        print(f"| {label} | {secs:.2f} | {secs / base:.2f} | {cloud:.4f} | {reported(dets, ships['cloud'])}/{len(ships['cloud'])} | "
              f"{reported(dets, ships['shadow'])}/{len(ships['shadow'])} | {reported(dets, ships['clear'])}/{len(ships['clear'])} | "
              f"{sum(d.kind == 'vessel' for d in dets)} |")  # fmt: skip
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
