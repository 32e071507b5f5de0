"""A ``fetch`` run again with nothing new: what telling an item reprocessed under its id costs.

A rerun asks of every item the search lists whether its observation is archived (:func:`sitewatch.fetch._archived`).
It read the row's ``path``; it now also reads the provenance and compares the STAC item kept there with the
catalogue's (:func:`sitewatch.fetch.item_changes`). Measured here on ``site_candidates`` (what a rerun does of each
site's items before it skips them all), the baseline the path alone as before, run in turn in this process:
S sites, each with I archived observations whose provenance holds a recorded Earth Search Sentinel-2 item
(``tests/data/stac/earth-search-s2-l2a-item.json``, 4.8 kB; Earth Search's own are about 10-15 kB: ``--pad`` adds
that many bytes of properties).

    python benchmarks/fetch_rerun.py [--sites 10] [--items 60] [--pad 8000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sitewatch import fetch  # noqa: E402
from sitewatch.model import Grid, Observation  # noqa: E402
from sitewatch.sources.stac import Catalog  # noqa: E402
from sitewatch.testing import tiny_site  # noqa: E402
from sitewatch.workspace import init_workspace  # noqa: E402

ITEM = Path(__file__).resolve().parents[1] / "tests" / "data" / "stac" / "earth-search-s2-l2a-item.json"


def _path_only(ws: Any, store: Any, site: Any, scene: Any, item: Any) -> tuple[bool, str]:
    """The check before: the row's path, and the file there."""
    rows = store.execute("SELECT path FROM observations WHERE observation_id = ?", (f"{site.id}/{scene.item_id}",))
    return bool(rows) and (ws.root / rows[0]["path"]).exists(), ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--pad", type=int, default=8000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    base = json.loads(ITEM.read_text(encoding="utf-8"))
    if args.pad:
        base["properties"]["padding"] = "x" * args.pad
    catalog = Catalog(name="earth-search", url="https://earth-search.aws.element84.com/v1", provider="earth-search")
    items = []
    for k in range(args.items):
        item = json.loads(json.dumps(base))
        item["id"] = f"S2B_53TMM_2024{k:04d}_0_L2A"
        item["properties"]["datetime"] = f"2024-10-14T01:53:{k % 60:02d}.{k:06d}Z"
        items.append(item)
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        sites = [tiny_site(f"port-{s}", lon=132.0 + 0.05 * s, lat=42.88, half_deg=0.005) for s in range(args.sites)]
        read = fetch.read_items(items, catalog)
        grid = Grid("EPSG:32653", (10.0, 0.0, 0.0, 0.0, -10.0, 0.0), 10, 10)
        with ws.store() as store:
            for site in sites:
                store.put_site(site)
                for item, scene in read:
                    assert not isinstance(scene, str), scene
                    path = f"archive/{site.id}/{scene.item_id}.tif"
                    (ws.root / path).parent.mkdir(parents=True, exist_ok=True)
                    (ws.root / path).write_bytes(b"")
                    store.put_observation(Observation(f"{site.id}/{scene.item_id}", site.id, replace(scene), grid, path,
                                                      "0" * 64, 1.0, provenance={"stac_item": item}))  # fmt: skip
            real = fetch._archived
            times: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.repeat):
                for side, check in (("before", _path_only), ("after", real)):
                    fetch._archived = check  # type: ignore[assignment]
                    t0 = time.perf_counter()
                    cands = [fetch.site_candidates(ws, store, site, read, {}) for site in sites]
                    times[side].append(time.perf_counter() - t0)
                    assert all(c.fetched and not c.changed for cs in cands for c in cs) and len(cands[0]) == args.items
            fetch._archived = real
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    n = args.sites * args.items
    print(f"{args.sites} sites × {args.items} archived items ({len(json.dumps(base)) / 1000:.1f} kB an item): "
          f"site_candidates {before * 1000:.0f} ms before (path only), {after * 1000:.0f} ms after (and the item "
          f"compared), ratio {after / before:.2f}; {(after - before) / n * 1e6:.0f} µs more an item")


if __name__ == "__main__":
    main()
