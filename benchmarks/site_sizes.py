"""Sites of extreme sizes end to end: a 2 km port (the baseline) against a 30 × 20 km training ground and a 100 km strait.

    python benchmarks/site_sizes.py [--sizes 2,30x20,100] [--keep DIR]

For each size, a SIMULATED Sentinel-1-like scene at 10 m (sea speckle, ENL 4.5, and 20 dB hulls drawn in
ground metres: the truth) a little larger than the site is written as a GeoTIFF, strip by strip (so that
the script's own memory stays small), then each command runs in a child process of its own:
``sites add --bbox``, ``ingest``, ``detect``, ``timeline``, ``report``, ``export`` (GeoJSON) and, for the
dashboard, ``serve``'s site page and its map. Printed per size and command: wall time and the child's
peak resident memory, each with its ratio to the 2 km baseline's measured in the same run; then the
detections against the drawn hulls (matched within 30 m of a hull's centre).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.windows import Window

LON, LAT = 36.55, 45.30
"""The Kerch Strait's middle: the 100 km case is the strait with the approaches to the Sea of Azov."""
PX = 10.0
SEA = 0.02
MARGIN_M = 500.0
SHIP_EVERY_M = 2500.0
"""One hull per 2.5 km square of the site, on a jittered lattice (16 in the 2 km baseline's image, 1600 at 100 km)."""


def _ships(w_m: float, h_m: float, rng: np.random.Generator) -> list[tuple[float, float, float, float, float]]:
    """(x m, y m from the image's top left, length, beam, heading) of the drawn hulls, inside the site."""
    out = []
    step = min(SHIP_EVERY_M, w_m / 3, h_m / 3)
    for y in np.arange(MARGIN_M + step / 2, MARGIN_M + h_m, step):
        for x in np.arange(MARGIN_M + step / 2, MARGIN_M + w_m, step):
            length = float(rng.uniform(60, 200))
            out.append((x + rng.uniform(-step / 5, step / 5), y + rng.uniform(-step / 5, step / 5), length,
                        length / 7, float(rng.uniform(0, 180))))  # fmt: skip
    return out


def write_scene(path: Path, crs: str, x0: float, y0: float, width: int, height: int, ships: list, seed: int) -> None:  # type: ignore[type-arg]
    """The scene, written in strips of 512 rows: sea speckle, hulls 20 dB over it."""
    rng = np.random.default_rng(seed)
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype="float32", crs=crs,
                   transform=Affine(PX, 0, x0, 0, -PX, y0), tiled=True, blockxsize=512, blockysize=512, compress="deflate")  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.update_tags(SITEWATCH_ACQUIRED="2024-10-17T03:40:00Z", SITEWATCH_IMPULSE_RESPONSE_M="0", SITEWATCH_PLATFORM="sentinel-1a")
        dst.set_band_description(1, "VV")
        for r0 in range(0, height, 512):
            h = min(512, height - r0)
            mean = np.full((h, width), SEA, np.float32)
            for x, y, length, beam, heading in ships:
                r, c = y / PX - r0, x / PX
                if not -30 < r < h + 30:
                    continue
                half = length / PX / 2 + 1
                ra, rb, ca, cb = max(0, int(r - half)), min(h, int(r + half) + 1), max(0, int(c - half)), min(width, int(c + half) + 1)
                if ra >= rb or ca >= cb:
                    continue
                rr, cc = np.mgrid[ra:rb, ca:cb]
                t = math.radians(heading)
                u = (cc + 0.5 - c) * math.sin(t) - (rr + 0.5 - r) * math.cos(t)
                v = (cc + 0.5 - c) * math.cos(t) + (rr + 0.5 - r) * math.sin(t)
                hull = (np.abs(u) <= length / PX / 2) & (np.abs(v) <= max(beam / PX / 2, 0.75))  # at least a pixel wide: a thinner diagonal line breaks in two
                mean[rr[hull], cc[hull]] = SEA * 100
            dst.write((mean * rng.gamma(4.5, 1 / 4.5, mean.shape)).astype(np.float32), 1, window=Window(0, r0, width, h))


def _run(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    """(seconds, peak resident MiB, stdout) of one command in a child that measures its own child."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "sys.stderr.write(p.stderr); print(p.returncode, time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout)")  # fmt: skip
    p = subprocess.run([sys.executable, "-c", probe, *argv], cwd=cwd, capture_output=True, text=True, check=False)
    first, _, out = p.stdout.partition("\n")
    rc, seconds, kib = first.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(argv)} failed ({rc}):\n{p.stderr[-3000:]}")
    return float(seconds), int(kib) // 1024, out


def _serve_pages(ws: Path, site: str) -> tuple[float, int, int]:
    """(seconds, bytes of the site page, bytes of its map) from ``sitewatch serve``; peak memory is not taken here."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen(["sitewatch", "serve", "-w", str(ws), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/", timeout=30).read()
                break
            except OSError:
                time.sleep(0.1)
        t = time.perf_counter()
        page = urllib.request.urlopen(f"{base}/sites/{site}", timeout=600).read()
        seconds = time.perf_counter() - t
        return seconds, len(page), page.count(b"<svg")
    finally:
        p.terminate()
        p.wait(timeout=30)


def case(root: Path, label: str, w_km: float, h_km: float, seed: int) -> dict[str, object]:
    """One site of ``w_km`` × ``h_km`` through every command."""
    from sitewatch.geo import utm_crs_for

    crs = utm_crs_for(LON, LAT)
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    cx, cy = to_utm.transform(LON, LAT)
    w_m, h_m = w_km * 1000, h_km * 1000
    sx0, sy1 = round((cx - w_m / 2) / PX) * PX, round((cy + h_m / 2) / PX) * PX
    x0, y0 = sx0 - MARGIN_M, sy1 + MARGIN_M
    width, height = int((w_m + 2 * MARGIN_M) / PX), int((h_m + 2 * MARGIN_M) / PX)
    ships = _ships(w_m, h_m, np.random.default_rng(seed))
    folder = root / label
    folder.mkdir(parents=True)
    tif = folder / f"S1A_{label}_20241017T034000.tif"
    t = time.perf_counter()
    write_scene(tif, crs, x0, y0, width, height, ships, seed)
    written = time.perf_counter() - t
    # The site a metre inside the drawn area, in lon/lat (its UTM box's lon/lat bounds would reach past the image).
    lons, lats = back.transform([sx0 + 1, sx0 + w_m - 1, sx0 + 1, sx0 + w_m - 1], [sy1 - 1, sy1 - 1, sy1 - h_m + 1, sy1 - h_m + 1])
    ring = [[lons[0], lats[0]], [lons[1], lats[1]], [lons[3], lats[3]], [lons[2], lats[2]], [lons[0], lats[0]]]
    (folder / "site.geojson").write_text(json.dumps({"type": "Feature", "properties": {"name": label}, "geometry": {"type": "Polygon", "coordinates": [ring]}}))
    ws = folder / "ws"
    subprocess.run(["sitewatch", "init", str(ws)], check=True, capture_output=True)
    rows: dict[str, object] = {"pixels": width * height, "ships": len(ships), "scene_s": written}
    for name, argv in (
        ("sites add", ["sitewatch", "sites", "add", "s", "--geojson", str(folder / "site.geojson")]),
        ("ingest", ["sitewatch", "ingest", "s", str(tif), "--workers", "1"]),
        ("detect", ["sitewatch", "detect", "s", "--workers", "1", "--json"]),
        ("timeline", ["sitewatch", "timeline", "s", "--csv", str(folder / "timeline.csv")]),
        ("report", ["sitewatch", "report", "s", "--out", str(folder / "report.html")]),
        ("export", ["sitewatch", "export", "s", "--out", str(folder / "s.geojson")]),
    ):
        seconds, mib, out = _run(argv, ws)
        rows[name] = (seconds, mib)
        if name == "detect":
            rows["found"] = json.loads(out)["detections"].get("vessel", 0)
    rows["report_kb"] = (folder / "report.html").stat().st_size // 1024
    try:
        rows["serve"] = _serve_pages(ws, "s")
    except Exception as exc:  # the dashboard is the `web` extra: its absence is said, the rest stands
        rows["serve"] = f"not measured ({exc})"
    feats = json.loads((folder / "s.geojson").read_text())["features"]
    from shapely.geometry import shape

    found = [to_utm.transform(*shape(f["geometry"]).centroid.coords[0]) for f in feats]
    truth = np.array([(x0 + x, y0 - y) for x, y, *_ in ships])
    hits = 0
    if len(found) and len(truth):
        f = np.array(found)
        from scipy.spatial import cKDTree

        d, _ = cKDTree(f).query(truth)
        hits = int((d <= 30).sum())
    rows["matched"] = hits
    rows["detections"] = len(feats)
    rows["truncated"] = sum(bool(f["properties"].get("truncated")) for f in feats)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2,30x20,100", help="km a side (or WxH), the first is the baseline")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the workspaces in this folder")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="site-sizes-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SITEWATCH_WORKERS", "1")
    results = {}
    try:
        for spec in args.sizes.split(","):
            w, _, h = spec.partition("x")
            label = f"{spec}km"
            results[label] = case(root, label, float(w), float(h or w), args.seed)
            print(label, json.dumps(results[label]), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    base = next(iter(results.values()))
    print("\n| site | pixels | command | seconds | ratio | peak MiB | ratio |")
    print("|---|---|---|---|---|---|---|")
    for label, rows in results.items():
        for name in ("ingest", "detect", "timeline", "report", "export"):
            s, m = rows[name]  # type: ignore[misc]
            bs, bm = base[name]  # type: ignore[misc]
            print(f"| {label} | {rows['pixels']:,} | {name} | {s:.1f} | {s / bs:.1f}x | {m} | {m / bm:.1f}x |")
    print("\n| site | hulls drawn | detections | matched (30 m) | truncated | report KB | dashboard site page |")
    print("|---|---|---|---|---|---|---|")
    for label, rows in results.items():
        sv = rows["serve"]
        page = f"{sv[0]:.1f} s, {sv[1] // 1024} KB" if isinstance(sv, tuple) else sv
        print(f"| {label} | {rows['ships']} | {rows['detections']} | {rows['matched']} | {rows['truncated']} | {rows['report_kb']} | {page} |")


if __name__ == "__main__":
    main()
