"""Sites at the edges of the globe, imaged in the CRSs a user gets there: lengths and headings against truth.

    python benchmarks/globe_crs.py [--keep DIR]

Eight places (Severomorsk, Longyearbyen, Anadyr, Ushuaia, Pontianak on the equator, Warnemünde on the
UTM 32/33 boundary, McMurdo, and Taveuni on 180°, as two sites either side of it) each get SIMULATED
10 m SAR scenes (Gamma speckle over open water) in UTM north or south, the neighbouring zone, polar
stereographic (EPSG:3413, 3031, 3995), Web Mercator and lon/lat numbered 0..360, with two hulls drawn in
ground metres (150 × 22 m heading 30°, 80 × 14 m heading 135°; at Taveuni one 120 m hull lies across
180°). Each scene goes through `sitewatch import` (which finds its sites), `detect` and `export`, and
every detection is compared with the hull drawn nearest it: length, heading (from true north), offset;
beside it, the length `detect-image` measures in the same file alone, on its own grid (not resampled).
The baseline is the place's own UTM zone, measured in the same run. Also printed: the site's valid
fraction against the share of it the scene covers, and whether every exported longitude is within
-180..180 and every observation footprint is narrower than 1°.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from affine import Affine
from click.testing import CliRunner
from pyproj import CRS, Geod, Transformer
from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sitewatch.cli import main  # noqa: E402
from sitewatch.geo import lonlat_centroid  # noqa: E402
from sitewatch.testing import write_tiff  # noqa: E402

HULLS = ((-500.0, 300.0, 150.0, 22.0, 30.0), (400.0, -400.0, 80.0, 14.0, 135.0))
"""(metres east, metres north of the place, length, beam, heading from true north)."""

PLACES: dict[str, tuple[float, float, tuple[float, float, float, float], list[tuple[str, str, float]]]] = {
    # site: (lon, lat, bbox, [(label, crs, pixel in crs units)])
    "severomorsk": (33.42, 69.08, (33.38, 69.06, 33.46, 69.10),
                    [("UTM 36N", "EPSG:32636", 10), ("EPSG:3995", "EPSG:3995", 10), ("Web Mercator", "EPSG:3857", 10 / 0.357)]),
    "longyearbyen": (15.60, 78.225, (15.55, 78.21, 15.65, 78.24),
                     [("UTM 33N", "EPSG:32633", 10), ("EPSG:3413", "EPSG:3413", 10), ("EPSG:3995", "EPSG:3995", 10),
                      ("Web Mercator 10", "EPSG:3857", 10)]),
    "anadyr": (177.50, 64.73, (177.45, 64.71, 177.55, 64.75),
               [("UTM 60N", "EPSG:32660", 10), ("lon/lat 0..360", "EPSG:4326", 0.0001)]),
    "ushuaia": (-68.30, -54.805, (-68.33, -54.82, -68.27, -54.79),
                [("UTM 19S", "EPSG:32719", 10), ("lon/lat 0..360", "EPSG:4326", 0.0001)]),
    "pontianak": (109.31, -0.015, (109.28, -0.04, 109.34, 0.01),
                  [("UTM 49S", "EPSG:32749", 10), ("UTM 49N", "EPSG:32649", 10)]),
    "warnemunde": (12.08, 54.18, (12.04, 54.16, 12.12, 54.20),
                   [("UTM 33N", "EPSG:32633", 10), ("UTM 32N", "EPSG:32632", 10)]),
    "mcmurdo": (166.67, -77.85, (166.62, -77.87, 166.72, -77.83),
                [("UTM 58S", "EPSG:32758", 10), ("EPSG:3031", "EPSG:3031", 10)]),
}  # fmt: skip
TAVEUNI = (179.999999, -16.80, [("UTM 60S", "EPSG:32760", 10), ("UTM 1S", "EPSG:32701", 10), ("lon/lat 0..360", "EPSG:4326", 0.0001)])


def _scene(path: Path, lon: float, lat: float, crs: str, res: float, hulls, when: str, seed: int, size_m: float = 5000.0):  # type: ignore[no-untyped-def]
    """A SAR scene covering ``size_m`` of ground around (lon, lat) in ``crs``, the hulls drawn in ground metres."""
    lon360 = crs == "EPSG:4326"
    c = CRS.from_user_input(crs)
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    e2g, g2e = Transformer.from_crs(aeqd, "EPSG:4326", always_xy=True), Transformer.from_crs("EPSG:4326", aeqd, always_xy=True)
    to, back = Transformer.from_crs("EPSG:4326", c, always_xy=True), Transformer.from_crs(c, "EPSG:4326", always_xy=True)
    xs, ys = [], []
    for dx in np.linspace(-size_m / 2, size_m / 2, 9):
        for dy in np.linspace(-size_m / 2, size_m / 2, 9):
            lo, la = e2g.transform(dx, dy)
            x, y = ((lo % 360.0, la) if lon360 else to.transform(lo, la))
            xs.append(x)
            ys.append(y)
    w, h = math.ceil((max(xs) - min(xs)) / res), math.ceil((max(ys) - min(ys)) / res)
    t = Affine(res, 0, min(xs), 0, -res, max(ys))
    rng = np.random.default_rng(seed)
    data = rng.gamma(4.5, 0.01 / 4.5, (h, w)).astype("float32")
    cc, rr = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    X, Y = t.c + cc * t.a, t.f + rr * t.e
    E, N = g2e.transform(*((X, Y) if lon360 else back.transform(X, Y)))
    truth = []
    for dx, dy, length, beam, heading in hulls:
        a = math.radians(heading)
        u, v = (E - dx) * math.sin(a) + (N - dy) * math.cos(a), (E - dx) * math.cos(a) - (N - dy) * math.sin(a)
        inside = (np.abs(u) <= length / 2) & (np.abs(v) <= beam / 2)
        data[inside] = rng.gamma(4.5, 1 / 4.5, int(inside.sum())).astype("float32") + 0.5
        truth.append((*e2g.transform(dx, dy), length, heading % 180.0))
    write_tiff(path, data, crs=crs, transform=t, descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": when})
    return truth


def _run(args: list[str]) -> str:
    res = CliRunner().invoke(main, args)
    if res.exit_code not in (0, 3):
        raise SystemExit(f"sitewatch {' '.join(args)}: exit {res.exit_code}\n{res.output}")
    return res.output


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build the workspace and images here (kept) instead of a temporary folder")
    opts = parser.parse_args()
    root = opts.keep or Path(tempfile.mkdtemp(prefix="sitewatch-globe-"))
    ws, incoming = root / "ws", root / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _run(["init", str(ws)])
    truths: dict[str, list] = {}  # type: ignore[type-arg]
    labels: dict[str, str] = {}
    for site, (lon, lat, bbox, grids) in PLACES.items():
        _run(["sites", "add", site, "--bbox", ",".join(map(str, bbox)), "-w", str(ws)])
        for k, (label, crs, res) in enumerate(grids):
            name = f"{site}-{k}"
            truths[name] = _scene(incoming / f"{name}_202410{10 + k:02d}.tif", lon, lat, crs, res, HULLS, f"2024-10-{10 + k:02d}T09:30:00Z", k)
            labels[name] = label
    _run(["sites", "add", "taveuni-w", "--bbox", "179.96,-16.82,180,-16.78", "--kind", "port", "-w", str(ws)])
    _run(["sites", "add", "taveuni-e", "--bbox", "-180,-16.82,-179.96,-16.78", "--kind", "port", "-w", str(ws)])
    lon, lat, grids = TAVEUNI
    for k, (label, crs, res) in enumerate(grids):
        name = f"taveuni-{k}"
        truths[name] = _scene(incoming / f"{name}_202410{10 + k:02d}.tif", lon, lat, crs, res, ((0.0, 0.0, 120.0, 18.0, 80.0),),
                              f"2024-10-{10 + k:02d}T09:30:00Z", 10 + k)  # fmt: skip
        labels[name] = label
    made = time.perf_counter()
    _run(["import", str(incoming), "-w", str(ws)])
    for site in [*PLACES, "taveuni-w", "taveuni-e"]:
        _run(["detect", site, "--workers", "1", "-w", str(ws)])
    out = root / "detections.geojson"
    _run(["export", "--out", str(out), "-w", str(ws)])
    ran = time.perf_counter()
    # The same files alone, on their own grids (no resampling onto the site's): `detect-image`.
    alone_dir = root / "detect-image"
    alone_dir.mkdir(exist_ok=True)
    _run(["detect-image", str(incoming), "--out", str(alone_dir)])
    alone: dict[str, list[tuple[float, float, float]]] = {}  # scene -> (lon, lat, length)
    for path in alone_dir.glob("*.geojson"):
        got = json.loads(path.read_text(encoding="utf-8"))
        to_ll = Transformer.from_crs(got.get("crs", {}).get("properties", {}).get("name", "EPSG:4326"), "EPSG:4326", always_xy=True)
        for f in got["features"]:
            c = shape(f["geometry"]).centroid
            alone.setdefault(path.stem.rsplit("_", 1)[0], []).append((*to_ll.transform(c.x, c.y), f["properties"]["length_m"]))
    fc = json.loads(out.read_text(encoding="utf-8"))
    geod = Geod(ellps="WGS84")
    rows: dict[str, list[tuple[str, float, float, float, float, str]]] = {}
    lon_ok = True
    for f in fc["features"]:
        p = f["properties"]
        g = shape(f["geometry"])
        lon_ok &= all(-180.0 <= x <= 180.0 for poly in getattr(g, "geoms", [g]) for x, _ in poly.exterior.coords)
        site, item = p["observation_id"].split("/")
        name = item.rsplit("_", 1)[0]
        cx, cy = lonlat_centroid(g)  # a box cut at 180° has parts either side
        best = min(truths[name], key=lambda t: geod.inv(t[0], t[1], cx, cy)[2])
        off = geod.inv(best[0], best[1], cx, cy)[2]
        dh = (p["heading_deg"] - best[3] + 90.0) % 180.0 - 90.0
        rows.setdefault(name, []).append((site, best[2], p["length_m"], dh, off, p["observation_id"]))
    db = sqlite3.connect(ws / "sitewatch.gpkg")
    widest = max(r[0] for r in db.execute("SELECT r.maxx - r.minx FROM rtree_observations_geom r"))
    valid = dict(db.execute("SELECT observation_id, valid_fraction FROM observations"))
    print(f"{len(truths)} scenes written in {made - started:.1f} s; import, detect and export in {ran - made:.1f} s\n")
    print(f"{'scene':16s} {'CRS':16s} {'site':12s} {'hull':>5s} {'measured':>8s} {'error':>6s} {'heading err':>11s} {'offset':>7s} {'valid':>6s}"
          f" {'detect-image alone':>18s}")  # fmt: skip
    errors: dict[str, list[float]] = {}
    for name, found in sorted(rows.items()):
        for site, truth_len, got, dh, off, obs_id in sorted(found):
            hull = next(t for t in truths[name] if t[2] == truth_len)
            near = [a for a in alone.get(name, []) if geod.inv(hull[0], hull[1], a[0], a[1])[2] < truth_len]
            own = ", ".join(f"{a[2]:.1f}" for a in near) or "-"
            print(f"{name:16s} {labels[name]:16s} {site:12s} {truth_len:5.0f} {got:8.1f} {got - truth_len:+6.1f} {dh:+11.1f} {off:6.0f} m"
                  f" {100 * valid[obs_id]:5.1f}% {own:>18s}")  # fmt: skip
            if not name.startswith("taveuni"):
                key = "own UTM zone (baseline)" if name.endswith("-0") else labels[name]
                errors.setdefault(key, []).append(abs(got - truth_len) / truth_len)
    print("\nmedian |length error| / length, by CRS (ratio to the baseline, the place's own UTM zone):")
    base = statistics.median(errors["own UTM zone (baseline)"])
    for key, errs in sorted(errors.items()):
        print(f"  {key:26s} {100 * statistics.median(errs):5.1f} %  ({statistics.median(errs) / base:4.2f}x)  over {len(errs)} hulls")
    print(f"\nevery exported longitude within -180..180: {lon_ok}; widest observation footprint: {widest:.4f}°")
    print(f"Taveuni: the 120 m hull across 180° is at both sites, each half truncated: "
          f"{sorted((s, round(g, 1)) for n, f in rows.items() if n.startswith('taveuni') for s, _, g, _, _, _ in f)}")


if __name__ == "__main__":
    main_()
