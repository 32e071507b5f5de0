"""A berth drawn tight as the site, against the same berth inside a larger site, and against the tight
berth archived with a margin of image around it: do the detectors still find and measure its ship?

    python benchmarks/site_margin.py [--per-series 6] [--margins 250,500,1000] [--datasets DIR] [--no-real]
    python benchmarks/site_margin.py --cost 10,3,0.5 --margins 1000

Each labelled ship becomes a berth: a 250 × 80 m rectangle along the ship, centred on it (as an
investigator draws "pier 3"). Each berth is ingested and detected through the real pipeline
(``ingest_file``, ``detect_site``) as

* ``tight``: the berth is the site (the archive's grid is its box), ``--margins`` 0;
* ``wide``: a 2 km square centred on the ship is the site (the image's extent, when smaller), and only
  detections whose centroid lies in the berth count;
* ``margin M``: the berth is the site, archived with M metres of image around its box (``context_m``).

A ship is found when a vessel detection's centroid lies in its berth within 30 m (10 m pixels) or 3 pixels
of its centre; its length error is that detection's against the label. Data: the SIMULATED seed story
(``sitewatch simulate``; SAR 10 m, Sentinel-2-like 10 m, PlanetScope-like 3 m, and the same Dunai at 3 m
SAR), the first ``--per-series`` scenes of each series that hold a visible ship; and, real, the
OpenSARShip Sentinel-1 GRD chips (10 m, AIS length; chips of at least 60 pixels, so that there is image
around the berth) and the sen2ships Sentinel-2 ports (10 m Mercator pixels, ground size 5.8-10 m; masks'
long axis as length), each written as a GeoTIFF in a made-up UTM frame at its ground pixel size (they are
read in place, never copied into the repository). Prints recall and length error per data set and mode,
and the archive's size and ingest + detect time of each mode against ``tight`` (same run). With ``--cost``,
only one berth's ingest and detect (seconds, peak memory, COG size) at each pixel size, without and with
each margin, each command in a child process.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from shapely.affinity import rotate
from shapely.geometry import Point, box, shape

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402

BERTH = (250.0, 80.0)
WIDE_M = 2000.0


@dataclass(frozen=True)
class Ship:
    """A labelled ship in an image: centre (UTM metres), length (m), heading (degrees clockwise from north)."""

    x: float
    y: float
    length_m: float
    heading_deg: float


@dataclass(frozen=True)
class Image:
    """One image file, its CRS, pixel size, extent (UTM box) and labelled ships."""

    series: str
    path: Path
    crs: str
    pixel_m: float
    extent: tuple[float, float, float, float]
    ships: tuple[Ship, ...]


def _berth(ship: Ship) -> object:
    """The berth a ship lies in: a 250 × 80 m rectangle along it, centred on it (UTM); 50 m longer than a ship
    of over 200 m (a berth holds its ship)."""
    length = max(BERTH[0], ship.length_m + 50.0)
    rect = box(ship.x - BERTH[1] / 2, ship.y - length / 2, ship.x + BERTH[1] / 2, ship.y + length / 2)
    return rotate(rect, -ship.heading_deg, origin=(ship.x, ship.y))


def _wide(ship: Ship, extent: tuple[float, float, float, float], pixel: float) -> object:
    half = WIDE_M / 2
    x0, y0, x1, y1 = extent
    return box(max(x0 + pixel, ship.x - half), max(y0 + pixel, ship.y - half), min(x1 - pixel, ship.x + half), min(y1 - pixel, ship.y + half))


# -- data -----------------------------------------------------------------------------------------------


def _simulated(root: Path, per_series: int) -> list[Image]:
    """The seed story (and Dunai at 3 m SAR) simulated into ``root``: the first scenes of each series with a visible ship."""
    import yaml  # type: ignore[import-untyped]

    from sitewatch.geo import reproject_geometry, utm_crs_for
    from sitewatch.sources import scenario as scenario_mod

    text = (Path(scenario_mod.__file__).parent.parent / "data" / "scenarios" / "seed-story.yaml").read_text()
    doc = yaml.safe_load(text)
    doc["acquisitions"].append({"name": "sar3", "site": "dunai", "sensor": "sar", "platform": "simulated-sar-constellation",
                                "collection": "sim-sar-vv", "resolution_m": 3, "start": "2024-10-14", "end": "2024-11-12",
                                "revisit_days": 2, "time_utc": "09:40", "enl": 4.6})  # fmt: skip
    scen = root / "scenario.yaml"
    scen.write_text(yaml.safe_dump(doc, sort_keys=False))
    sim = root / "sim"
    subprocess.run(["sitewatch", "simulate", str(scen), "-o", str(sim)], check=True, capture_output=True)
    images: list[Image] = []
    counts: dict[str, int] = {}
    for truth in sorted(sim.glob("*/*.truth.geojson")):
        doc = json.loads(truth.read_text())
        props = doc["properties"]
        series = f"sim {props['sensor']} {props['resolution_m']:g} m"
        if counts.get(series, 0) >= per_series:
            continue
        feats = [f for f in doc["features"] if f["properties"].get("kind") == "vessel" and f["properties"].get("visible")]
        if not feats:
            continue
        g0 = shape(feats[0]["geometry"])
        crs = utm_crs_for(g0.centroid.x, g0.centroid.y)
        ships = []
        for f in feats:
            c = reproject_geometry(shape(f["geometry"]), "EPSG:4326", crs).centroid
            ships.append(Ship(c.x, c.y, float(f["properties"]["length_m"]), float(f["properties"]["heading_deg"])))
        tif = truth.with_name(truth.name.replace(".truth.geojson", ".tif"))
        import rasterio

        with rasterio.open(tif) as src:
            b = src.bounds
            images.append(Image(series, tif, src.crs.to_string(), abs(src.transform.a), (b.left, b.bottom, b.right, b.top), tuple(ships)))
        counts[series] = counts.get(series, 0) + 1
    return images


def _write_utm(path: Path, bands: np.ndarray, names: list[str], pixel: float, tags: dict[str, str]) -> tuple[str, tuple[float, float, float, float]]:
    """A pixel array written as a GeoTIFF in a made-up UTM frame (zone 33N, x 500 km, y 4,500 km) at ``pixel`` metres."""
    from sitewatch.testing import write_tiff

    crs, x0, y0 = "EPSG:32633", 500_000.0, 4_500_000.0
    write_tiff(path, bands.astype(np.float32), crs=crs, transform=Affine(pixel, 0, x0, 0, -pixel, y0), descriptions=names, tags=tags)
    h, w = bands.shape[-2:]
    return crs, (x0, y0 - h * pixel, x0 + w * pixel, y0)


def _opensarship(root: Path, datasets: Path, min_px: int) -> list[Image]:
    """OpenSARShip GRD chips of at least ``min_px`` a side, their ship at the Head/Tail line's middle, AIS length."""
    import sar_real

    images = []
    for k, chip in enumerate(c for c in sar_real.opensarship_chips(datasets) if c.kind == "GRD" and c.ais_length > 0):
        h, w = chip.intensity.shape
        if min(h, w) < min_px or not all(math.isfinite(v) for v in chip.head_tail):
            continue
        hx, hy, tx, ty = chip.head_tail
        crs, ext = _write_utm(root / f"osship-{k:03d}.tif", chip.intensity[None], ["VV"], 10.0,
                              {"SITEWATCH_ACQUIRED": "2016-01-01T00:00:00Z", "SITEWATCH_IMPULSE_RESPONSE_M": "0"})  # fmt: skip
        x0, y1 = ext[0], ext[3]
        cx, cy = x0 + ((hx + tx) / 2 + 0.5) * 10.0, y1 - ((hy + ty) / 2 + 0.5) * 10.0
        heading = math.degrees(math.atan2(tx - hx, -(ty - hy))) % 180.0
        images.append(Image("OpenSARShip S1 GRD 10 m", root / f"osship-{k:03d}.tif", crs, 10.0, ext, (Ship(cx, cy, chip.ais_length, heading),)))
    return images


def _sen2ships(root: Path, datasets: Path) -> list[Image]:
    """The sen2ships ports with all four bands: each labelled ship's mask gives its centre, long axis and heading."""
    import _sen2ships

    _sen2ships.use_root(datasets / "sen2ships" / "sen2ships")
    images = []
    for name in _sen2ships.port_names():
        port = _sen2ships.load_port(name)
        if set(port.bands) != {"blue", "green", "red", "nir"}:
            continue
        pixel = float(np.mean(port.pixel_size))
        stack = np.stack([port.bands[b] for b in ("blue", "green", "red", "nir")])
        tif = root / f"sen2ships-{name}.tif"
        crs, ext = _write_utm(tif, stack, ["B02", "B03", "B04", "B08"], pixel, {"SITEWATCH_ACQUIRED": "2021-01-01T10:00:00Z"})
        ships = []
        for mask in port.masks:
            rr, cc = np.nonzero(mask)
            if rr.size < 2:
                continue
            r, c = rr.mean(), cc.mean()
            cov = np.cov(np.stack([cc - c, -(rr - r)]))
            vals, vecs = np.linalg.eigh(cov)
            ex, ny = vecs[:, 1]
            heading = math.degrees(math.atan2(ex, ny)) % 180.0
            along = (cc - c) * ex - (rr - r) * ny
            length = (along.max() - along.min() + 1) * pixel
            ships.append(Ship(ext[0] + (c + 0.5) * pixel, ext[3] - (r + 0.5) * pixel, float(length), heading))
        images.append(Image("sen2ships S2 (ground pixels 5.8-10 m)", tif, crs, pixel, ext, tuple(ships)))
    return images


# -- the pipeline -------------------------------------------------------------------------------------------


def _site(site_id: str, geom_utm: object, crs: str) -> object:
    from sitewatch.geo import reproject_geometry
    from sitewatch.model import Site

    return Site(id=site_id, name=site_id, kind="port", geometry=reproject_geometry(geom_utm, crs, "EPSG:4326"))


def run_mode(ws_root: Path, images: list[Image], mode: str, margin: float) -> dict[str, object]:
    """Every ship of ``images`` in one mode: {series: [(found, length error or None)...]}, bytes archived, seconds."""
    from sitewatch.detection import detect_site
    from sitewatch.ingest import ingest_file
    from sitewatch.workspace import init_workspace

    takes_context = "context_m" in inspect.signature(ingest_file).parameters
    if mode == "margin" and not takes_context:
        raise SystemExit("this sitewatch's ingest_file takes no context_m: no margin to measure")
    extra = {"context_m": margin} if takes_context and mode != "wide" else {}
    from sitewatch.geo import reproject_geometry

    ws = init_workspace(ws_root)
    results: dict[str, list[tuple[bool, float | None]]] = {}
    t = time.perf_counter()
    with ws.store() as store:
        jobs = []
        for i, img in enumerate(images):
            for j, ship in enumerate(img.ships):
                berth = _berth(ship)
                sid = f"s{i:03d}-{j:02d}"
                geom = _wide(ship, img.extent, img.pixel_m) if mode == "wide" else berth
                site = _site(sid, geom, img.crs)
                store.put_site(site)  # type: ignore[arg-type]
                ingest_file(ws, store, site, img.path, **extra)  # type: ignore[arg-type]
                jobs.append((sid, img, ship, berth))
    for sid, _, _, _ in jobs:
        detect_site(ws, sid, workers=1)
    seconds = time.perf_counter() - t
    with ws.store() as store:
        for sid, img, ship, berth in jobs:
            best = None
            for d in store.detections(site_id=sid):
                if d.kind != "vessel":
                    continue
                c = reproject_geometry(d.footprint, "EPSG:4326", img.crs).centroid
                dist = math.hypot(c.x - ship.x, c.y - ship.y)
                if berth.contains(Point(c.x, c.y)) and dist <= max(30.0, 3 * img.pixel_m) and (best is None or dist < best[0]):  # type: ignore[attr-defined]
                    best = (dist, d.length_m)
            results.setdefault(img.series, []).append((best is not None, None if best is None else best[1] - ship.length_m))
    size = sum(f.stat().st_size for f in (ws_root / "archive").rglob("*.tif"))
    return {"results": results, "bytes": size, "seconds": seconds}


def cost(root: Path, pixels: list[float], margins: list[float]) -> None:
    """One berth's ingest and detect, each in a child process (``site_sizes._run``: seconds, peak MiB), and its COG's
    size, at each pixel size and margin: a SIMULATED SAR scene of sea speckle reaching 1.25 km around the berth."""
    from site_sizes import _run
    from sitewatch.testing import write_tiff

    crs, cx, cy = "EPSG:32633", 500_000.0, 4_500_000.0
    berth = _berth(Ship(cx, cy, 110.0, 90.0))
    site = _site("berth", berth, crs)
    rows = []
    for px in pixels:
        n = int(2 * (1250 + 125) / px)
        rng = np.random.default_rng(1)
        sea = (0.02 * rng.gamma(4.5, 1 / 4.5, (n, n))).astype(np.float32)
        tif = write_tiff(root / f"cost-{px:g}.tif", sea, crs=crs, transform=Affine(px, 0, cx - n * px / 2, 0, -px, cy + n * px / 2),
                         descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z", "SITEWATCH_IMPULSE_RESPONSE_M": "0"})  # fmt: skip
        geo = root / "berth.geojson"
        geo.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": site.geometry.__geo_interface__}))  # type: ignore[attr-defined]
        for m in margins:
            ws = root / f"cost-ws-{px:g}-{m:g}"
            subprocess.run(["sitewatch", "init", str(ws)], check=True, capture_output=True)
            subprocess.run(["sitewatch", "sites", "add", "berth", "--geojson", str(geo), "-w", str(ws)], check=True, capture_output=True)
            env_argv = ["env", f"SITEWATCH_CONTEXT_M={m:g}", "SITEWATCH_WORKERS=1"]
            ing = _run([*env_argv, "sitewatch", "ingest", "berth", str(tif)], ws)
            det = _run([*env_argv, "sitewatch", "detect", "berth"], ws)
            size = sum(f.stat().st_size for f in (ws / "archive").rglob("*.tif"))
            rows.append((px, m, size, ing, det))
    print("\n| pixel | margin m | COG KB | ingest s | ingest peak MiB | detect s | detect peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for px, m, size, ing, det in rows:
        print(f"| {px:g} m | {m:g} | {size / 1024:,.0f} | {ing[0]:.1f} | {ing[1]} | {det[0]:.1f} | {det[1]} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-series", type=int, default=6, help="simulated scenes with a visible ship per series")
    ap.add_argument("--margins", default="", help="margins (m) to measure besides tight and wide, e.g. 250,500,1000")
    ap.add_argument("--datasets", type=Path, default=datasets_root())
    ap.add_argument("--no-real", action="store_true", help="the simulated scenes only")
    ap.add_argument("--min-chip-px", type=int, default=60)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--cost", default="", help="only the cost of one berth: pixel sizes (m), e.g. 10,3,0.5; margins from --margins")
    args = ap.parse_args()
    logging.getLogger("sitewatch.detection").setLevel(logging.ERROR)  # the small-site note, once a berth: measured here
    root = args.keep or Path(tempfile.mkdtemp(prefix="site-margin-"))
    root.mkdir(parents=True, exist_ok=True)
    if args.cost:
        try:
            cost(root, [float(p) for p in args.cost.split(",")], [0.0] + [float(m) for m in args.margins.split(",") if m])
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
        return
    try:
        images = _simulated(root, args.per_series)
        if not args.no_real:
            if (args.datasets / "opensarship-s1-subset").is_dir():
                images += _opensarship(root, args.datasets, args.min_chip_px)
            if (args.datasets / "sen2ships").is_dir():
                images += _sen2ships(root, args.datasets)
        modes = [("tight", 0.0), ("wide", 0.0)] + [("margin", float(m)) for m in args.margins.split(",") if m]
        out = {}
        for mode, margin in modes:
            label = mode if mode != "margin" else f"margin {margin:g} m"
            out[label] = run_mode(root / label.replace(" ", "-"), images, mode, margin)
            print(label, f"{out[label]['seconds']:.1f} s", f"{out[label]['bytes'] / 1e6:.2f} MB", file=sys.stderr, flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    series = list(dict.fromkeys(img.series for img in images))
    print("\n| data | ships | " + " | ".join(f"{m}: found, length MAE (bias) m" for m in out) + " |")
    print("|---|---|" + "---|" * len(out))
    for s in series:
        cells = []
        for res in out.values():
            rows = res["results"][s]  # type: ignore[index]
            errs = [e for ok, e in rows if ok and e is not None]
            mae = f"{np.mean(np.abs(errs)):.1f} ({np.mean(errs):+.1f})" if errs else "-"
            cells.append(f"{sum(ok for ok, _ in rows)} ({sum(ok for ok, _ in rows) / len(rows):.0%}), {mae}")
        print(f"| {s} | {len(res['results'][s])} | " + " | ".join(cells) + " |")  # type: ignore[index]
    base = out["tight"]
    print("\n| mode | archive MB | ratio | ingest + detect s | ratio |")
    print("|---|---|---|---|---|")
    for m, res in out.items():
        print(f"| {m} | {res['bytes'] / 1e6:.2f} | {res['bytes'] / base['bytes']:.1f}x | {res['seconds']:.1f} | "  # type: ignore[operator]
              f"{res['seconds'] / base['seconds']:.1f}x |")  # type: ignore[operator]


if __name__ == "__main__":
    main()
