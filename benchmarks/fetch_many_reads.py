"""Asset opens, requests and wall time of a grouped fetch: each asset opened once a site (before) or once an item (after).

`sitewatch fetch` of several sites searches once for a group of sites close together, then cuts each item for
every site its footprint covers. Before, each site's fetch opened every asset of the item again (its header and
overviews read again, over HTTP, for each site); now each asset is opened once an item and each site's window
read from it. This serves, on 127.0.0.1 (no network), a STAC API whose Sentinel-2-shaped items have 10 m band
COGs of ``--px`` pixels a side (20 m SCL), tiled 256 with overviews, as Earth Search's are, every request
answered after ``--latency`` seconds (0.05 by default: a range request to cloud storage). ``--sites`` ports lie in
one item's footprint (one group). Both ways are measured in the same run, each against its own server (its own
URLs, so GDAL's cache of one does not serve the other):

- baseline: :func:`sitewatch.fetch.fetch_candidates` for each site in turn, what ``fetch_sites`` did;
- after: :func:`sitewatch.fetch.fetch_candidates_of_sites`, what ``fetch_sites`` does now.

The archived COGs are compared (sha256 of each observation): they must be identical.

``--fresh-signature`` signs each href anew at each open (a query string of its own), as a signer that issues a new
signature a call would: GDAL's own cache of a URL then no longer spares the baseline's reopening.

``--measure`` measures instead of fetching, as ``sitewatch search --measure`` of several sites does (only the SCL's
window over each site read, the cloud and valid % over it learnt):

- baseline: :func:`sitewatch.fetch.measure_site_stats` for each site in turn, what ``search`` did;
- after: :func:`sitewatch.fetch.measure_stats_of_sites`, what ``search`` does now.

Each site's figures of each item are compared instead of COGs: they must be identical.

    python benchmarks/fetch_many_reads.py [--sites 2,5,10] [--items 3] [--px 2048] [--latency 0.05] [--fresh-signature] [--measure]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box, mapping

from sitewatch.fetch import (
    FetchOptions,
    fetch_candidates,
    fetch_candidates_of_sites,
    measure_site_stats,
    measure_stats_of_sites,
)
from sitewatch.fetch_many import find_scenes_for_sites
from sitewatch.sources.stac import Catalog
from sitewatch.testing import tiny_site
from sitewatch.workspace import init_workspace

LON, LAT = 132.338, 42.88
UTM = "EPSG:32653"
START = datetime(2024, 10, 1, tzinfo=UTC)
BANDS = ("blue", "green", "red", "nir")


def write_cogs(folder: Path, px: int) -> tuple[Affine, float]:
    """Band COGs (10 m, ``px`` a side) and an SCL (20 m) around the ports; their transform and side (m)."""
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(LON, LAT)
    side = px * 10.0
    x0, y1 = np.floor((x - side / 2) / 20) * 20, np.ceil((y + side / 2) / 20) * 20
    rng = np.random.default_rng(7)
    profile = {"driver": "COG", "crs": UTM, "nodata": 0, "compress": "deflate", "blocksize": 256}
    folder.mkdir(parents=True, exist_ok=True)
    for band in BANDS:
        data = rng.integers(500, 3000, (px, px), dtype=np.uint16)
        with rasterio.open(folder / f"{band}.tif", "w", width=px, height=px, count=1, dtype="uint16",
                           transform=Affine(10, 0, x0, 0, -10, y1), **profile) as dst:  # fmt: skip
            dst.write(data, 1)
    scl = np.full((px // 2, px // 2), 4, np.uint8)  # vegetation: clear
    with rasterio.open(folder / "scl.tif", "w", width=px // 2, height=px // 2, count=1, dtype="uint8",
                       transform=Affine(20, 0, x0, 0, -20, y1), **profile) as dst:  # fmt: skip
        dst.write(scl, 1)
    return Affine(10, 0, x0, 0, -10, y1), side


class Server:
    """A STAC API of ``n_items`` items (each its own asset URLs, the same files), answering after ``latency`` s."""

    def __init__(self, files: Path, transform: Affine, side: float, n_items: int, latency: float) -> None:
        self.files, self.latency = files, latency
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
        x0, y1 = transform.c, transform.f
        foot = box(*to_ll.transform(x0, y1 - side), *to_ll.transform(x0 + side, y1))
        self.items = [self._item(k, foot) for k in range(n_items)]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _item(self, k: int, foot: Any) -> dict[str, Any]:
        item_id = f"S2A_BENCH_{k:02d}"
        base = f"{self.url}/files/{item_id}"
        assets: dict[str, Any] = {b: {"href": f"{base}/{b}.tif", "type": "image/tiff", "roles": ["data"],
                                      "raster:bands": [{"nodata": 0, "scale": 0.0001, "offset": -0.1}]} for b in BANDS}
        assets["scl"] = {"href": f"{base}/scl.tif", "type": "image/tiff", "roles": ["data"]}
        when = START + timedelta(days=5 * k, hours=1, minutes=53)
        return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
                "geometry": mapping(foot), "bbox": list(foot.bounds),
                "properties": {"datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "platform": "sentinel-2a",
                               "eo:cloud_cover": 5.0, "s2:processing_baseline": "05.11",
                               "earthsearch:boa_offset_applied": False},
                "assets": assets, "links": []}  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                time.sleep(api.latency)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # GDAL stops reading a whole file once it has the header
                    pass

            def do_GET(self) -> None:
                if self.path.startswith("/files/"):
                    name = self.path.split("?")[0].rsplit("/", 1)[-1]
                    with api.lock:
                        api.requests["asset"] += 1
                    data = (api.files / name).read_bytes()
                    rng = self.headers.get("Range", "")
                    if not rng.startswith("bytes="):
                        return self._send(200, data, {"Accept-Ranges": "bytes"})
                    spans = []
                    for part in rng[6:].split(","):
                        a, _, b = part.strip().partition("-")
                        spans.append((int(a), min(int(b) if b else len(data) - 1, len(data) - 1)))
                    if len(spans) == 1:
                        (start, end), = spans
                        return self._send(206, data[start : end + 1], {"Content-Range": f"bytes {start}-{end}/{len(data)}",
                                                                       "Accept-Ranges": "bytes"})  # fmt: skip
                    body = b"".join(b"--SPANS\r\nContent-Type: application/octet-stream\r\n"
                                    + f"Content-Range: bytes {a}-{b}/{len(data)}\r\n\r\n".encode() + data[a : b + 1] + b"\r\n"
                                    for a, b in spans) + b"--SPANS--\r\n"  # fmt: skip
                    return self._send(206, body, {"Content-Type": "multipart/byteranges; boundary=SPANS"})
                with api.lock:
                    api.requests["api"] += 1
                self._send(200, json.dumps({"type": "Catalog", "id": "bench", "stac_version": "1.0.0",
                                            "description": "bench", "conformsTo": [
                                                "https://api.stacspec.org/v1.0.0/core",
                                                "https://api.stacspec.org/v1.0.0/item-search"],
                                            "links": [{"rel": "self", "href": f"{api.url}/"},
                                                      {"rel": "root", "href": f"{api.url}/"},
                                                      {"rel": "search", "href": f"{api.url}/search", "method": "POST",
                                                       "type": "application/geo+json"}]}).encode())  # fmt: skip

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with api.lock:
                    api.requests["api"] += 1
                self._send(200, json.dumps({"type": "FeatureCollection", "features": api.items, "links": []}).encode())

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FreshSigner:
    """Signs each href anew (a query string of its own each time), as a signer issuing a new signature a call would:
    GDAL's cache of one signed URL then does not serve the next."""

    def __init__(self) -> None:
        self.n = 0

    def sign(self, href: str, *, refresh: bool = False) -> str:
        """``href`` with a signature of its own."""
        self.n += 1
        return f"{href}?sig={self.n}"


def run(n_sites: int, n_items: int, files: Path, transform: Affine, side: float, latency: float,
        grouped: bool, fresh: bool = False, measure: bool = False) -> dict[str, Any]:  # fmt: skip
    """One fetch (``measure``: one measuring) of ``n_sites`` ports (one group) from a server of its own; its counts,
    time and COGs' digests (``measure``: each site's figures of each item)."""
    server = Server(files, transform, side, n_items, latency)
    catalog = Catalog(name="bench", url=server.url, provider="bench")
    spread = side / 2 / 111_320 * 0.6  # the ports within the middle of the item, ~1 km apart or more
    lons = np.linspace(LON - spread, LON + spread, n_sites)
    sites = [tiny_site(f"port-{i:02d}", float(lon), LAT, 0.004) for i, lon in enumerate(lons)]
    options = FetchOptions("sentinel-2-l2a", START, START + timedelta(days=5 * n_items), retries=0,
                           signer=FreshSigner() if fresh else None)  # fmt: skip
    opens = Counter[str]()
    real = rasterio.open

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, str) and path.startswith(server.url):
            opens["asset"] += 1
        return real(path, *args, **kwargs)

    with tempfile.TemporaryDirectory(prefix="fetch-many-reads-") as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        with ws.store() as store:
            for site in sites:
                store.put_site(site)
            found = find_scenes_for_sites(ws, store, sites, catalog, options)
            server.requests.clear()
            rasterio.open = counted  # type: ignore[assignment]
            try:
                t = time.perf_counter()
                if measure:
                    measured = (measure_stats_of_sites(ws, sites, catalog, found.candidates, options) if grouped else
                                {s.id: measure_site_stats(ws, s, catalog, found.candidates[s.id], options) for s in sites})  # fmt: skip
                elif grouped:
                    reports = fetch_candidates_of_sites(ws, store, sites, catalog, options, found.candidates, found.refused)
                else:
                    reports = {s.id: fetch_candidates(ws, store, s, catalog, options, found.candidates[s.id], found.refused[s.id])
                               for s in sites}  # fmt: skip
                wall = time.perf_counter() - t
            finally:
                rasterio.open = real  # type: ignore[assignment]
            digests: dict[str, Any]
            if measure:  # each site's figures of each item (None: not measured)
                digests = {f"{sid}/{c.scene.item_id}": c.stats for sid, (cands, _) in measured.items() for c in cands}
                failed = sum(len(problems) for _, problems in measured.values())
            else:
                digests = {o.id: hashlib.sha256((ws.root / o.path).read_bytes()).hexdigest() == o.sha256 and o.sha256
                           for r in reports.values() for o in r.observations}  # fmt: skip
                failed = sum(len(r.failed) for r in reports.values())
    server.close()
    return {"opens": opens["asset"], "requests": server.requests["asset"], "s": wall,
            "digests": digests, "observations": sum(v is not None for v in digests.values()), "failed": failed}  # fmt: skip


def main() -> None:
    """Both ways for each number of sites; a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", default="2,5,10")
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--px", type=int, default=2048, help="pixels a side of a 10 m band COG")
    ap.add_argument("--latency", type=float, default=0.05, help="seconds before each answer")
    ap.add_argument("--fresh-signature", action="store_true",
                    help="sign each asset href anew at each open (a new query string), as some signers do")
    ap.add_argument("--measure", action="store_true", help="measure cloud over each site (search --measure), not fetch")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fetch-many-cogs-") as tmp:
        files = Path(tmp)
        transform, side = write_cogs(files, args.px)
        size = sum(f.stat().st_size for f in files.iterdir())
        print(f"{args.items} items of 5 COGs ({size / 1e6:.1f} MB), 10 m bands {args.px} px a side; latency {args.latency:g} s "
              f"a request; {'a new signature each open' if args.fresh_signature else 'hrefs as they are'}"
              f"{'; measuring (search --measure)' if args.measure else ''}")
        print("| sites | asset opens before → after | asset requests before → after | wall s before → after | "
              f"ratio (time) | {'measured | figures' if args.measure else 'observations | COGs'} identical |")
        print("|---|---|---|---|---|---|---|")
        for n in (int(x) for x in args.sites.split(",")):
            before = run(n, args.items, files, transform, side, args.latency, grouped=False, fresh=args.fresh_signature,
                         measure=args.measure)
            after = run(n, args.items, files, transform, side, args.latency, grouped=True, fresh=args.fresh_signature,
                        measure=args.measure)
            same = before["digests"] == after["digests"] and all(before["digests"].values()) and not before["failed"] + after["failed"]
            print(f"| {n} | {before['opens']:,} → {after['opens']:,} | {before['requests']:,} → {after['requests']:,} | "
                  f"{before['s']:.2f} → {after['s']:.2f} | "
                  f"{before['s'] / after['s']:.2f}× | {after['observations']} | {'yes' if same else 'NO'} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
