"""Fuzz a STAC API's answers as `sitewatch search`/`fetch --catalog URL` take them: a catalogue served on
127.0.0.1 answers the search with the input, and each item found is read as fetch reads it (its scene, and
each band's scaling). The input's first byte picks the search page as it is, a recorded item's page with
values of other types swapped in, or the API's landing page (the search then answering a recorded page)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import atheris
from _harness import mutated_json, run
from _stac import read_as_fetch

with atheris.instrument_imports(include=["sitewatch"]):
    from sitewatch.sources.stac import (
        Catalog,
        search_items,
    )

RECORDED = sorted((Path(__file__).resolve().parents[1] / "tests" / "data" / "stac").glob("*.json"))
ITEMS = [json.loads(p.read_text()) for p in RECORDED]
PAGES = [{"type": "FeatureCollection", "features": [item], "links": []} for item in ITEMS]
CONFORMS = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"]


class _Answers:
    landing = b""
    page = b""


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if self.headers.get("Content-Length"):
            self.rfile.read(int(self.headers["Content-Length"]))
        body = {"": _Answers.landing, "/conformance": json.dumps({"conformsTo": CONFORMS}).encode()}.get(path, _Answers.page)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


SERVER = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
threading.Thread(target=SERVER.serve_forever, daemon=True).start()
URL = f"http://127.0.0.1:{SERVER.server_address[1]}"
LANDING = json.dumps({
    "type": "Catalog", "id": "api", "stac_version": "1.0.0", "description": "fuzz", "conformsTo": CONFORMS,
    "links": [{"rel": "self", "href": f"{URL}/"}, {"rel": "root", "href": f"{URL}/"},
              {"rel": "search", "href": f"{URL}/search", "method": "POST", "type": "application/geo+json"},
              {"rel": "search", "href": f"{URL}/search", "method": "GET", "type": "application/geo+json"}],
}).encode()  # fmt: skip
CATALOG = Catalog(name="fuzz", url=URL, provider="generic")
START, END = datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
SEEDS = [b"\x00" + json.dumps(page).encode() for page in PAGES] + [b"\x01" + b"\xff" * 256, b"\x02" + LANDING]


def read(data: bytes) -> None:
    mode = data[0] % 3 if data else 0
    _Answers.landing, _Answers.page = LANDING, json.dumps(PAGES[0]).encode()
    if mode == 0:
        _Answers.page = data[1:]
    elif mode == 1:
        _Answers.page = mutated_json(data[1:], PAGES)  # type: ignore[arg-type]
    else:
        _Answers.landing = data[1:]
    items = search_items(CATALOG, "any-collection", (-180, -90, 180, 90), START, END, retries=0, max_items=20)
    read_as_fetch(items, CATALOG)


if __name__ == "__main__":
    run(read, SEEDS)
