"""Fuzz a static STAC catalogue on disk as `sitewatch search`/`fetch --catalog DIR` walk it: a catalog.json
linking a collection.json linking an item, one of the three files taken from the input (its first byte picks
which, and whether as it is or a seed with values of other types swapped in); each item found is then read
as fetch reads it (its scene, and each band's scaling)."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import atheris
from _harness import mutated_json, run
from _stac import read_as_fetch

with atheris.instrument_imports(include=["sitewatch"]):
    from sitewatch.sources.stac import (
        Catalog,
        search_items,
    )

RECORDED = Path(__file__).resolve().parents[1] / "tests" / "data" / "stac" / "earth-search-s2-l2a-item.json"
ITEM = json.loads(RECORDED.read_text())
ITEM["links"] = [{"rel": "collection", "href": "../collection.json"}, {"rel": "parent", "href": "../collection.json"}]
ITEM["assets"] = {k: {**a, "href": f"./{k}.tif"} for k, a in ITEM["assets"].items()}
CATALOG_JSON = {
    "type": "Catalog", "id": "delivery", "stac_version": "1.0.0", "description": "fuzz",
    "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "child", "href": "./collection.json"}],
}  # fmt: skip
COLLECTION_JSON = {
    "type": "Collection", "id": ITEM["collection"], "stac_version": "1.0.0", "description": "fuzz", "license": "proprietary",
    "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [["2020-01-01T00:00:00Z", None]]}},
    "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "parent", "href": "./catalog.json"},
              {"rel": "item", "href": "./item/item.json"}],
}  # fmt: skip
FILES = ("catalog.json", "collection.json", "item/item.json")
DOCS = [CATALOG_JSON, COLLECTION_JSON, ITEM]
SEEDS = [bytes([i]) + json.dumps(doc).encode() for i, doc in enumerate(DOCS)] + [bytes([3 + i]) + b"\xff" * 256 for i in range(3)]
ROOT = Path(tempfile.mkdtemp(prefix="sitewatch-fuzz-stac-"))
CATALOG = Catalog(name="delivery", url=(ROOT / "catalog.json").as_uri(), provider="generic")
START, END = datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
(ROOT / "item").mkdir()


def read(data: bytes) -> None:
    mode = data[0] % 6 if data else 0
    which = mode % 3
    for i, (name, doc) in enumerate(zip(FILES, DOCS, strict=True)):
        body = json.dumps(doc).encode()
        if i == which:
            body = data[1:] if mode < 3 else mutated_json(data[1:], [doc])
        (ROOT / name).write_bytes(body)
    items = search_items(CATALOG, ITEM["collection"], (-180, -90, 180, 90), START, END)
    read_as_fetch(items, CATALOG)


if __name__ == "__main__":
    run(read, SEEDS)
