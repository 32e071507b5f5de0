"""Requests and wall time of a STAC search for many sites: one search a site (before) against one a group (after).

A team watching hundreds of ports asked the catalogue once a site a day (`sitewatch search SITE` in a loop).
This serves a fake STAC API on 127.0.0.1 (a threaded HTTP server answering each request after ``--latency``
seconds, 0.3 by default, as Earth Search or Planetary Computer take; no network) whose items are the recorded
Earth Search Sentinel-2 item of ``tests/data/stac`` copied onto a grid of MGRS-like tiles (1° squares every
0.9°, so neighbours overlap as MGRS tiles do) every ``--revisit`` days, and searches the same sites both ways:

- baseline, measured in the same run: :func:`sitewatch.fetch.find_scenes` for each site in turn, what
  `search SITE` / `fetch SITE` do;
- grouped: :func:`sitewatch.fetch_many.find_scenes_for_sites`, what `search` / `fetch` of several sites do.

Both with ``refresh`` (no cache), and the results compared site by site (item ids, coverage): they must be
identical. Two layouts of sites: ``region`` (ports on the coasts of one sea: East Asia, 118-145° E,
30-46° N, where a team watching a navy's ports would look) and ``world`` (ports spread over every coast, as
``benchmarks/_gazetteer.py`` puts them: the worst case for grouping, few ports near another).

    python benchmarks/stac_many.py [--sizes 10,200,1000] [--layouts region,world] [--latency 0.3] [--group-km 50]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import box, mapping

sys.path.insert(0, str(Path(__file__).parent))

from sitewatch.fetch import FetchOptions, find_scenes
from sitewatch.fetch_many import find_scenes_for_sites
from sitewatch.model import Site
from sitewatch.sources.stac import Catalog
from sitewatch.workspace import init_workspace

RECORDED = Path(__file__).parent.parent / "tests" / "data" / "stac" / "earth-search-s2-l2a-item.json"
START = datetime(2024, 10, 1, tzinfo=UTC)
DAYS = 30
REGION = (118.0, 30.0, 145.0, 46.0)


class FakeApi:
    """A STAC API of tiles × dates, answering after ``latency`` seconds; counts what it is asked."""

    def __init__(self, latency: float, revisit: int) -> None:
        self.latency = latency
        self.template = json.loads(RECORDED.read_text(encoding="utf-8"))
        self.dates = [START + timedelta(days=d, hours=1, minutes=53) for d in range(0, DAYS, revisit)]
        self.requests = 0
        self.searches = 0
        self.items_sent = 0
        self.lock = threading.Lock()
        self.url = ""

    def items_over(self, bbox: list[float], start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Tiles meeting ``bbox`` (1° squares every 0.9°: the overlap MGRS tiles have), each date in range."""
        w, s, e, n = bbox
        out = []
        step = 0.9
        for i in range(math.floor((w - 1.0) / step), math.floor(e / step) + 1):
            for j in range(math.floor((s - 1.0) / step), math.floor(n / step) + 1):
                tile = box(i * step, j * step, i * step + 1.0, j * step + 1.0)
                if not tile.intersects(box(w, s, e, n)):
                    continue
                for when in self.dates:
                    if start <= when <= end:
                        out.append(self._item(i, j, tile, when))
        return out

    def _item(self, i: int, j: int, tile: Any, when: datetime) -> dict[str, Any]:
        item = copy.deepcopy(self.template)
        item["id"] = f"S2B_T{i:+04d}{j:+03d}_{when:%Y%m%d}_0_L2A"
        item["geometry"] = mapping(tile)
        item["bbox"] = list(tile.bounds)
        item["properties"]["datetime"] = when.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        item["links"] = []
        return item

    def start(self) -> ThreadingHTTPServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, obj: Any) -> None:
                time.sleep(api.latency)
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                with api.lock:
                    api.requests += 1
                conforms = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"]
                self._json({"type": "Catalog", "id": "fake", "stac_version": "1.0.0", "description": "fake",
                            "conformsTo": conforms,
                            "links": [{"rel": "self", "href": f"{api.url}/"}, {"rel": "root", "href": f"{api.url}/"},
                                      {"rel": "search", "href": f"{api.url}/search", "method": "POST",
                                       "type": "application/geo+json"}]})  # fmt: skip

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                a, _, b = str(body["datetime"]).partition("/")
                hits = api.items_over(body["bbox"], datetime.fromisoformat(a.replace("Z", "+00:00")),
                                      datetime.fromisoformat(b.replace("Z", "+00:00")))  # fmt: skip
                limit, offset = int(body.get("limit") or 10), int(body.get("token") or 0)
                page = hits[offset : offset + limit]
                links = []
                if offset + limit < len(hits):
                    links.append({"rel": "next", "href": f"{api.url}/search", "method": "POST",
                                  "body": {**body, "token": str(offset + limit)}})  # fmt: skip
                with api.lock:
                    api.requests += 1
                    api.searches += "token" not in body
                    api.items_sent += len(page)
                self._json({"type": "FeatureCollection", "features": page, "links": links})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def counted(self) -> tuple[int, int, int]:
        with self.lock:
            return self.requests, self.searches, self.items_sent


def region_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of coast in :data:`REGION`, as ``_gazetteer.coast_points`` finds them worldwide."""
    from sitewatch.analysis.sea_route import water_at

    found: list[np.ndarray] = []
    total, d = 0, 0.02
    w, s, e, north = REGION
    while total < n:
        lon, lat = rng.uniform(w, e, 100_000), rng.uniform(s, north, 100_000)
        near = np.zeros(lon.size, bool)
        for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d)):
            near |= water_at(lon + dx, lat + dy)
        keep = ~water_at(lon, lat) & near
        found.append(np.column_stack([lon[keep], lat[keep]]))
        total += int(keep.sum())
    return np.concatenate(found)[:n]


def make_sites(layout: str, n: int, seed: int = 150) -> list[Site]:
    """``n`` port polygons (rotated rectangles 300 m to 4 km, as ``_gazetteer``) of a layout."""
    from shapely.geometry import Polygon

    from _gazetteer import _rectangle, coast_points

    rng = np.random.default_rng(seed)
    points = coast_points(n, rng) if layout == "world" else region_points(n, rng)
    return [Site(f"port-{i:04d}", f"port {i}", "port", Polygon(_rectangle(float(x), float(y), rng)))
            for i, (x, y) in enumerate(points)]  # fmt: skip


def run(sites: list[Site], layout: str, latency: float, revisit: int, group_km: float) -> dict[str, Any]:
    """Both ways for one layout's sites; the figures of each."""
    n = len(sites)
    api = FakeApi(latency, revisit)
    server = api.start()
    catalog = Catalog(name="fake", url=api.url, provider="fake")
    end = START + timedelta(days=DAYS) - timedelta(seconds=1)
    out: dict[str, Any] = {"layout": layout, "sites": n}
    with tempfile.TemporaryDirectory(prefix="stac-many-") as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        with ws.store() as store:
            for site in sites:
                store.put_site(site)
            t = time.perf_counter()
            alone = {s.id: find_scenes(ws, store, s, catalog,
                                       FetchOptions("sentinel-2-l2a", START, end, refresh=True, retries=0))
                     for s in sites}  # fmt: skip
            out["before_s"] = time.perf_counter() - t
            out["before_requests"], out["before_searches"], out["before_items"] = api.counted()
            api.requests = api.searches = api.items_sent = 0
            t = time.perf_counter()
            many = find_scenes_for_sites(ws, store, sites, catalog,
                                         FetchOptions("sentinel-2-l2a", START, end, refresh=True, retries=0, group_km=group_km))  # fmt: skip
            out["after_s"] = time.perf_counter() - t
            out["after_requests"], out["after_searches"], out["after_items"] = api.counted()
    server.shutdown()
    server.server_close()
    view = {sid: [(c.scene.item_id, c.coverage) for c in cands] for sid, cands in alone.items()}
    out["identical"] = not many.failed and view == {sid: [(c.scene.item_id, c.coverage) for c in many.candidates[sid]]
                                                    for sid in view}  # fmt: skip
    out["groups"] = many.searches
    out["candidates"] = sum(len(v) for v in view.values())
    return out


def main() -> None:
    """Run the layouts and sizes asked for and print a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,200,1000")
    ap.add_argument("--layouts", default="region,world")
    ap.add_argument("--latency", type=float, default=0.3, help="seconds before each answer")
    ap.add_argument("--revisit", type=int, default=5, help="days between a tile's items")
    ap.add_argument("--group-km", type=float, default=50.0)
    args = ap.parse_args()
    print(f"latency {args.latency:g} s a request, a tile every {args.revisit} days over {DAYS} days, group-km {args.group_km:g}")
    print("| layout | sites | groups | requests before → after | wall s before → after | ratio (time) | site-items | items sent before → after | identical |")
    print("|---|---|---|---|---|---|---|---|---|")
    sizes = [int(x) for x in args.sizes.split(",")]
    for layout in args.layouts.split(","):
        every = make_sites(layout, max(sizes))  # the smaller lists are its first sites, as _gazetteer's are
        for n in sizes:
            r = run(every[:n], layout, args.latency, args.revisit, args.group_km)
            print(f"| {layout} | {n:,} | {r['groups']:,} | {r['before_requests']:,} → {r['after_requests']:,} | "
                  f"{r['before_s']:.1f} → {r['after_s']:.1f} | {r['before_s'] / r['after_s']:.1f}× | {r['candidates']:,} | "
                  f"{r['before_items']:,} → {r['after_items']:,} | {'yes' if r['identical'] else 'NO'} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
