"""What a HEAD costs the dashboard against the GET of the same address, in the same run.

A SIZE × SIZE uint16 GeoTIFF (uncompressed: 200 MB at the default 10,000 px) is recorded as one observation of a
workspace; the app is called in-process as an ASGI server calls it (no TestClient: the body is counted, not
kept), each figure the median of ``--repeat`` requests:

- ``GET /observations/ID/image.tif``, the body counted and dropped: the baseline, and what a HEAD cost before
  (``HeadAsGet`` ran the GET and dropped its body);
- ``HEAD`` of it now (its headers from the file's size and time, the file not read);
- ``/sites/SITE/timeline.png`` (``--days`` daily observations of the site, the same file each): a GET drawing the chart (what every request, HEAD included, did before), and a
  HEAD after it (the chart kept in the PNG cache).

The file is read once before the figures, so every GET reads it from the OS's page cache: a cold disk makes
the GET, and the ratio, larger still.

    python benchmarks/head_cost.py [--size 10000] [--repeat 5] [--days 90]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine

from sitewatch.model import Grid, Observation, SceneRef
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites
from sitewatch.web import create_app


def _write_tif(path: Path, size: int, crs: str, transform: Affine) -> None:
    """An uncompressed uint16 image, written in strips of rows (never whole in memory)."""
    rng = np.random.default_rng(0)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint16", "crs": crs,
               "transform": transform, "tiled": True, "blockxsize": 512, "blockysize": 512}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        step = 1024
        for r0 in range(0, size, step):
            rows = min(step, size - r0)
            dst.write(rng.integers(0, 4000, (rows, size), dtype="uint16"), 1, window=((r0, r0 + rows), (0, size)))


async def _call(app: Any, method: str, path: str) -> tuple[int, dict[str, str], int]:
    """(status, headers, body bytes) of one request, as an ASGI server makes it (spec 2.4: no disconnect watch)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 50000), "server": ("bench", 80),
    }  # fmt: skip
    status, headers, size = 0, {}, 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers, size
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    await app(scope, receive, send)
    return status, headers, size


def _timed(app: Any, method: str, path: str, repeat: int) -> tuple[float, tuple[int, dict[str, str], int]]:
    """The median time (s) of ``repeat`` requests, and the last one's answer."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        answer = asyncio.run(_call(app, method, path))
        times.append(time.perf_counter() - t)
        assert answer[0] == 200, (method, path, answer)
    return statistics.median(times), answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000, help="side of the image in pixels (uint16: 2 bytes each)")
    ap.add_argument("--repeat", type=int, default=5, help="requests per figure (the median is given)")
    ap.add_argument("--days", type=int, default=90, help="daily observations of the site: the timeline chart's dates")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        site = tiny_site("bench")
        ws = workspace_with_sites(Path(tmp) / "ws", site)
        crs, x0, y0 = site_utm_origin(site)
        transform = Affine(1.0, 0, x0, 0, -1.0, y0)
        rel = "archive/bench/big.tif"
        path = ws.root / rel
        path.parent.mkdir(parents=True)
        _write_tif(path, args.size, crs, transform)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()  # (and the file now in the page cache)
        scene = SceneRef(provider="bench", collection="bench", item_id="big", sensor="sar",
                         acquired=datetime(2024, 10, 17, 9, 30, tzinfo=UTC), resolution_m=1.0, simulated=True)  # fmt: skip
        obs = Observation(id="bench/big", site_id="bench", scene=scene, grid=Grid(crs, tuple(transform)[:6], args.size, args.size),  # type: ignore[arg-type]
                          path=rel, sha256=sha, valid_fraction=1.0)  # fmt: skip
        with ws.store() as st:  # a look a day, each with the same file: a timeline of --days dates to draw
            for day in range(args.days):
                when = datetime(2024, 9, 1, 9, 30, tzinfo=UTC) + timedelta(days=day)
                item = f"big-{day:03d}"
                st.put_observation(dataclasses.replace(
                    obs, id=f"bench/{item}", scene=dataclasses.replace(scene, item_id=item, acquired=when)
                ))  # fmt: skip
            st.put_observation(obs)
        app = create_app(ws.root)

        image = "/observations/bench/big/image.tif"
        get, (_, get_headers, body) = _timed(app, "GET", image, args.repeat)
        head, (_, head_headers, head_body) = _timed(app, "HEAD", image, args.repeat)
        assert body == path.stat().st_size and head_body == 0 and head_headers == get_headers

        chart = "/sites/bench/timeline.png"
        drawn = []
        for _ in range(args.repeat):  # each with a new app: a cache of its own, so every GET draws
            fresh = create_app(ws.root)
            drawn.append(_timed(fresh, "GET", chart, 1)[0])
        draw = statistics.median(drawn)
        cached_head, (_, _, png_body) = _timed(fresh, "HEAD", chart, args.repeat)
        assert png_body == 0

        print(f"GeoTIFF {args.size} x {args.size} uint16, {path.stat().st_size / 1e6:.0f} MB; timeline of {args.days + 1} "
              f"observations; median of {args.repeat}")
        print(f"image.tif  GET, body counted (baseline; HEAD before):  {get * 1e3:9.1f} ms")
        print(f"image.tif  HEAD now:                                   {head * 1e3:9.2f} ms  ({get / head:,.0f}x less)")
        print(f"timeline.png  GET drawing it (HEAD before: the same):  {draw * 1e3:9.1f} ms")
        print(f"timeline.png  HEAD after a GET (cached):               {cached_head * 1e3:9.2f} ms  ({draw / cached_head:,.0f}x less)")


if __name__ == "__main__":
    main()
