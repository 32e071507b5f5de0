"""The dashboard while another command writes the workspace: an archived image replaced (an ingest again) or
deleted (``sites remove --with-observations``: the rows first, then the files) while a request reads it.

Found by ``benchmarks/serve_soak.py``. The app is called as an ASGI server calls it (spec 2.4, as uvicorn),
and the file changed at the moment the server sends the headers, or just after the store named it.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from sitewatch.model import Detection, Grid, Observation, SceneRef
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")

from sitewatch.web import create_app  # noqa: E402
from sitewatch.web.app import Dashboard  # noqa: E402

SIDE = 300

# Starlette 1.8 is the first whose FileResponse reads the body through _open_file, which ArchivedFile gives the file
# it opened; on an older one (the web extra admits them) a download is sent from the file opened again by its name.
# By version, not by the method's presence: were it renamed, these tests fail rather than skip.
_STARLETTE = tuple(int(x) for x in re.findall(r"\d+", importlib.metadata.version("starlette"))[:2])
sent_from_the_opened_file = pytest.mark.skipif(
    _STARLETTE < (1, 8), reason="Starlette before 1.8 opens a file again by its name to send it (README, Dashboard)"
)


def _image(path: Path, site_crs: str, x0: float, y0: float, seed: int, side: int = SIDE) -> Path:
    data = np.random.default_rng(seed).integers(0, 4000, (side, side), dtype="uint16")
    return write_tiff(path, data, crs=site_crs, transform=Affine(3.0, 0, x0, 0, -3.0, y0))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace of one site with one simulated optical observation (a 300 × 300 image) and one detection."""
    site = tiny_site("tiny")
    w = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    rel = "archive/tiny/look.tif"
    (w.root / rel).parent.mkdir(parents=True)
    path = _image(w.root / rel, crs, x0, y0, seed=0)
    scene = SceneRef(provider="test", collection="test", item_id="look", sensor="sar",
                     acquired=datetime(2024, 10, 17, 9, 30, tzinfo=UTC), resolution_m=3.0, simulated=True)  # fmt: skip
    obs = Observation(id="tiny/look", site_id="tiny", scene=scene, grid=Grid(crs, (3.0, 0, x0, 0, -3.0, y0), SIDE, SIDE),
                      path=rel, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), valid_fraction=1.0)  # fmt: skip
    c = site.require_geometry().centroid
    ship = Detection("tiny/look#000", obs.id, "vessel", box(c.x - 0.0005, c.y - 0.0001, c.x + 0.0005, c.y + 0.0001),
                     80.0, 15.0, 90.0, 0.9, "test", "1")  # fmt: skip
    with w.store() as st:
        st.put_observation(obs)
        st.replace_detections(obs, [ship])
    return w


async def _call(app: Any, path: str, at_start: Any = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET of ``path``; ``at_start()`` runs when the server sends the headers."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"test")], "client": ("127.0.0.1", 50000), "server": ("test", 80),
    }  # fmt: skip
    status, headers, body = 0, {}, bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = {k.decode(): v.decode() for k, v in message["headers"]}
            if at_start is not None:
                at_start()
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, headers, bytes(body)


@sent_from_the_opened_file
def test_an_image_replaced_while_it_is_downloaded_comes_whole_as_it_was(ws: Workspace, tmp_path: Path) -> None:
    """Starlette opened the file again by its name after the headers: the old file's Content-Length with the new
    file's bytes (uvicorn broke the connection halfway: "Too much data for declared Content-Length")."""
    image = ws.root / "archive/tiny/look.tif"
    before = image.read_bytes()
    site = tiny_site("tiny")
    crs, x0, y0 = site_utm_origin(site)
    bigger = _image(tmp_path / "bigger.tif", crs, x0, y0, seed=1, side=SIDE + 50)

    status, headers, body = asyncio.run(_call(create_app(ws.root), "/observations/tiny/look/image.tif",
                                              at_start=lambda: bigger.replace(image)))  # fmt: skip
    assert status == 200
    assert image.read_bytes() != before  # it was replaced while sent
    assert int(headers["content-length"]) == len(body) and body == before


@sent_from_the_opened_file
def test_an_image_deleted_while_it_is_downloaded_comes_whole(ws: Workspace) -> None:
    """``sites remove --with-observations`` deletes the rows, then the files: a download begun before came with
    its headers and then FileNotFoundError (no body, a traceback in the server's log)."""
    image = ws.root / "archive/tiny/look.tif"
    before = image.read_bytes()
    status, headers, body = asyncio.run(_call(create_app(ws.root), "/observations/tiny/look/image.tif", at_start=image.unlink))
    assert status == 200 and not image.exists()
    assert int(headers["content-length"]) == len(body) and body == before


@pytest.mark.parametrize("route", ["image.tif", "quicklook.png", "detections/1.png"])
def test_an_image_deleted_after_the_store_named_it_is_404_not_500(ws: Workspace, monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    """The store said the observation exists, then ``sites remove`` deleted its file before the image was read:
    a 500 "internal error (RuntimeError: File at path … does not exist)" for the image, "cannot read the image"
    for the pictures. It is gone: 404 saying so."""
    real = Dashboard.archived

    def then_removed(self: Dashboard, obs: Observation) -> Path:
        path = real(self, obs)
        path.unlink()
        return path

    monkeypatch.setattr(Dashboard, "archived", then_removed)
    status, headers, body = asyncio.run(_call(create_app(ws.root), f"/observations/tiny/look/{route}"))
    assert status == 404, body
    assert headers["content-type"] == "application/json"
    assert b"is no longer in the workspace's archive" in body and b"tiny/look" in body


def _removed_after_first_read(ws: Workspace, reader: Any, monkeypatch: pytest.MonkeyPatch, table: str) -> list[str]:
    """Have ``sites remove --with-observations`` of the site commit (from another connection, as the command does)
    just after ``reader``'s first statement on ``table``; the statements it ran after that, returned."""
    real = reader.execute
    after: list[str] = []

    def then_removed(sql: str, args: Any = ()) -> Any:
        rows = real(sql, args)
        if after or f"FROM {table}" in sql:
            if not after:
                with ws.store() as writer, writer.transaction():
                    writer.delete_site("tiny", observations=True)
            after.append(sql)
        return rows

    monkeypatch.setattr(reader, "execute", then_removed)
    return after


def test_observations_read_while_their_site_is_removed_come_with_their_scenes(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store read the observations, then each one's scene by a query of its own: a `sites remove` committed
    between the two left an observation without its scene, and the dashboard's site page and detections answered
    500 (IndexError), as any command reading observations at that moment failed. One statement reads both."""
    with ws.store(read_only=True) as reader:
        _removed_after_first_read(ws, reader, monkeypatch, "observations")
        got = reader.observations("tiny")
    assert [(o.id, o.scene.item_id, o.scene.sensor) for o in got] == [("tiny/look", "look", "sar")]


@pytest.mark.parametrize(("table", "find", "key"), [("observations", "find_observation", "tiny/look"), ("sites", "find_site", "tiny")])
def test_a_page_s_lookup_while_its_site_is_removed_is_found_or_404_never_a_store_error(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, table: str, find: str, key: str
) -> None:
    """The dashboard looked an id up, then read it: a `sites remove` committed between answered 503 ("no
    observation …; list them with `sitewatch observations`") or 500 (SiteError) instead of the page or a 404."""
    from sitewatch.web import data

    with ws.store(read_only=True) as reader:
        _removed_after_first_read(ws, reader, monkeypatch, table)
        try:
            found = getattr(data, find)(reader, key)
        except data.NotFound:
            return
    assert found.id == key


def test_an_observation_removed_and_ingested_again_between_two_reads_is_found(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Removed just before the dashboard read it, and back (ingested again) when it looked why: the page, not a 503
    (the store's "no observation" error, raised again)."""
    from sitewatch.web import data

    with ws.store() as st:
        obs, site, dets = st.get_observation("tiny/look"), st.get_site("tiny"), st.detections(observation_id="tiny/look")
        st.delete_site("tiny", observations=True)
    with ws.store(read_only=True) as reader:
        real = reader.execute

        def back_before_the_look(sql: str, args: Any = ()) -> Any:
            if sql.startswith("SELECT 1 FROM observations"):
                with ws.store() as writer:
                    writer.put_site(site)
                    writer.put_observation(obs)
                    writer.replace_detections(obs, dets)
            return real(sql, args)

        monkeypatch.setattr(reader, "execute", back_before_the_look)
        assert data.find_observation(reader, "tiny/look").id == "tiny/look"


def test_an_observation_whose_scene_is_not_stored_is_an_error_naming_it(ws: Workspace) -> None:
    """A damaged store (the scene's row deleted by hand): an error naming the observation and the scene, not an
    IndexError, nor the observation silently left out."""
    from sitewatch.errors import StoreError

    with ws.store() as st:
        scene_id = st.execute("SELECT scene_id FROM observations WHERE observation_id = 'tiny/look'")[0][0]
        with st.transaction() as db:
            db.execute("DELETE FROM scenes WHERE scene_id = ?", (scene_id,))
        with pytest.raises(StoreError, match=f"'tiny/look' names scene '{re.escape(scene_id)}'.*damaged"):
            st.observations("tiny")
