"""``fetch`` run again, as a user runs it: against a STAC API on 127.0.0.1 (``test_stac.StacServer``) with Sentinel-2
and Sentinel-1 RTC items whose assets are small COGs written here. Nothing new: nothing written; a new item: it alone
read; an item reprocessed under its id: its new version fetched, its observation replaced and said so."""

from __future__ import annotations

import json
import shlex
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import box, mapping

from sitewatch.cli import main
from sitewatch.fetch import item_changes
from sitewatch.geo import reproject_geometry
from sitewatch.workspace import init_workspace, open_workspace
from test_stac import SITE, UTM, StacServer, _cog, _s2_item, _site_xy


def _rtc_item(files: Path, base: str, item_id: str, when: str, value: float = 0.05) -> dict[str, Any]:
    """A Planetary-Computer-shaped Sentinel-1 RTC item whose COGs (VV, VH, linear gamma0) cover the site."""
    x, y = _site_xy()
    x0, y1 = np.floor((x - 1500) / 10) * 10, np.ceil((y + 1500) / 10) * 10
    n = 300
    assets = {}
    for key in ("vv", "vh"):
        _cog(files / "rtc" / f"{item_id}_{key}.tif", np.full((n, n), value, np.float32), Affine(10, 0, x0, 0, -10, y1),
             nodata=None)  # fmt: skip
        assets[key] = {"href": f"{base}/files/rtc/{item_id}_{key}.tif", "type": "image/tiff", "roles": ["data"]}
    foot = reproject_geometry(box(x0, y1 - n * 10, x0 + n * 10, y1), UTM, "EPSG:4326")
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-1-rtc",
            "geometry": mapping(foot), "bbox": list(foot.bounds),
            "properties": {"datetime": when, "platform": "sentinel-1a", "sat:orbit_state": "ascending",
                           "sat:relative_orbit": 54, "sar:polarizations": ["VV", "VH"]},
            "assets": assets, "links": []}  # fmt: skip


@pytest.fixture()
def catalogue(tmp_path: Path):  # type: ignore[no-untyped-def]
    files = tmp_path / "files"
    state = StacServer(files=files)
    server = state.start()
    state.items = [
        _s2_item(files, state.url, "S2A_A_20241005", "2024-10-05T01:53:49Z"),
        _rtc_item(files, state.url, "S1A_RTC_20241006", "2024-10-06T08:34:14Z"),
        _s2_item(files, state.url, "S2B_B_20241008", "2024-10-08T01:53:49Z"),
        _rtc_item(files, state.url, "S1A_RTC_20241018", "2024-10-18T08:34:14Z"),
    ]
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{state.url}"\n', encoding="utf-8")
    yield state, ws.root
    server.shutdown()
    server.server_close()


def _fetch(root: Path, collection: str, *more: str) -> Any:
    res = CliRunner().invoke(main, ["fetch", "port", "-w", str(root), "--catalog", "local", "--collection", collection,
                                    "--from", "2024-10-01", "--to", "2024-11-30", *more])  # fmt: skip
    assert res.exit_code == 0, res.output
    return res


def _files(root: Path) -> dict[str, tuple[int, int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size, p.stat().st_ino)
            for p in root.rglob("*") if p.is_file()}  # fmt: skip


def _rows(root: Path) -> dict[str, int]:
    with sqlite3.connect(root / "sitewatch.gpkg") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _taken_in(root: Path) -> None:
    """What an ``alerts check`` does to ``input_changes``: takes its rows in."""
    with sqlite3.connect(root / "sitewatch.gpkg") as db:
        db.execute("DELETE FROM input_changes")


def test_fetch_again_with_nothing_new_writes_nothing_and_says_so(catalogue):
    state, root = catalogue
    for coll in ("s2", "sentinel-1-rtc"):
        assert "fetched 2," in _fetch(root, coll).output
    _taken_in(root)
    files, rows = _files(root), _rows(root)
    for more in ((), ("--refresh",)):
        for coll in ("s2", "sentinel-1-rtc"):
            before = len(state.log)
            out = _fetch(root, coll, *more).output
            assert "fetched 0, skipped 2, failed 0" in out and out.count(": already fetched") == 2, out
            assert not [p for _, p, _ in state.log[before:] if p.startswith("/files/")]  # no asset read
    now = _files(root)
    # The search cache is written again by --refresh (it holds when the catalogue was asked); the store's file holds
    # the `runs` rows (one a command, as every command records). Nothing else: no COG, sidecar or figure rewritten.
    assert {k for k in files.keys() | now.keys() if files.get(k) != now.get(k)} <= {"sitewatch.gpkg"} | {
        k for k in now if k.startswith("cache/stac/search-")}
    assert _rows(root) == rows | {"runs": rows["runs"] + 4}  # input_changes among them: still empty


def test_a_new_item_alone_is_fetched(catalogue):
    state, root = catalogue
    _fetch(root, "s2")
    state.items.append(_s2_item(state.files, state.url, "S2A_NEW_20241015", "2024-10-15T01:53:49Z"))
    before = len(state.log)
    out = _fetch(root, "s2", "--refresh").output
    assert "port/S2A_NEW_20241015" in out and "fetched 1, skipped 2" in out
    assert {p.split("/")[-1].split("_")[1] for _, p, _ in state.log[before:] if p.startswith("/files/")} == {"NEW"}


def test_an_item_reprocessed_under_its_id_replaces_its_observation_and_says_so(catalogue):
    """A provider reprocessing an item under the same id (Earth Search's BOA offset, a new processing baseline): the
    rerun said "already fetched" and kept the old image for good, whatever --refresh asked."""
    state, root = catalogue
    _fetch(root, "s2")
    assert CliRunner().invoke(main, ["detect", "port", "--workers", "1", "-w", str(root)]).exit_code == 0
    new = _s2_item(state.files, state.url, "S2A_A_20241005", "2024-10-05T01:53:49Z", dn=3000, folder="v2")
    new["properties"]["updated"] = "2025-01-01T00:00:00Z"
    state.items[0] = new
    res = _fetch(root, "s2", "--refresh", "--json")
    report = json.loads(res.stdout)
    assert [o["item_id"] for o in report["observations"]] == ["S2A_A_20241005"]
    (replaced,) = report["replaced"]
    assert replaced["item_id"] == "S2A_A_20241005"
    assert "(properties updated)" in replaced["reason"]  # (the files of the new version have the same names)
    assert "detections were dropped" in replaced["reason"]
    with rasterio.open(root / "archive/port/S2A_A_20241005.tif") as src:
        red = src.read(list(src.descriptions).index("red") + 1)
    assert np.nanmedian(red) == pytest.approx(3000 * 1e-4 - 0.1, abs=1e-6)  # the new version's pixels
    shown = CliRunner().invoke(main, ["show", "port/S2A_A_20241005", "--json", "-w", str(root)])
    provenance = json.loads(shown.stdout)["provenance"]
    assert provenance["stac_item"]["properties"]["updated"] == "2025-01-01T00:00:00Z"
    assert "properties updated" in provenance["item_changed"]
    with sqlite3.connect(root / "sitewatch.gpkg") as db:
        waiting = [r[0] for r in db.execute("SELECT observation_id FROM observations WHERE detected_at IS NULL")]
    assert waiting == ["port/S2A_A_20241005"]  # the next `detect` reads it, the other keeps its detections
    out = _fetch(root, "s2", "--refresh").output  # and once taken, it is the item archived: not fetched a third time
    assert "fetched 0, skipped 2" in out and "replaced" not in out


def test_a_catalogue_moving_its_files_or_rewriting_links_fetches_nothing_again(catalogue):
    state, root = catalogue
    _fetch(root, "s2")
    for item in state.items:
        item["links"] = [{"rel": "self", "href": f"{state.url}/collections/x/items/{item['id']}"}]
        for asset in item["assets"].values():  # the same files behind another host (a CDN), signed
            asset["href"] = asset["href"].replace("127.0.0.1", "localhost") + "?sig=abc"
            asset["alternate"] = {"s3": {"href": "s3://bucket/" + asset["href"].rsplit("/", 1)[1]}}
    out = _fetch(root, "s2", "--refresh").output
    assert "fetched 0, skipped 2" in out and "replaced" not in out


def test_item_changes_names_what_differs_and_takes_nan_for_nan():
    old = {"properties": {"datetime": "2024-10-05T00:00:00Z", "eo:cloud_cover": float("nan")},
           "assets": {"red": {"href": "https://a/x/B04.tif", "file:checksum": "12"}}, "geometry": None}  # fmt: skip
    assert item_changes(old, json.loads(json.dumps(old))) == []
    new = json.loads(json.dumps(old))
    new["properties"]["s2:processing_baseline"] = "05.11"
    new["assets"]["red"]["file:checksum"] = "13"
    new["assets"]["nir"] = {"href": "https://a/x/B08.tif"}
    assert item_changes(old, new) == ["properties s2:processing_baseline", "asset nir", "asset red"]


def test_a_search_answered_from_the_cache_says_the_catalogue_was_not_asked(catalogue):
    """A rerun within 24 h used the cached search without a word: "fetched 0" while the catalogue had a new item."""
    state, root = catalogue
    assert "from the cache" not in _fetch(root, "s2").output  # asked: nothing cached yet
    state.items.append(_s2_item(state.files, state.url, "S2A_NEW_20241015", "2024-10-15T01:53:49Z"))
    out = _fetch(root, "s2").output
    assert "fetched 0, skipped 2" in out
    assert "searched from the cache (" in out and "--refresh asks the catalogue for items published since" in out
    assert json.loads(_fetch(root, "s2", "--json").stdout)["search_cached_at"].endswith("Z")
    res = CliRunner().invoke(main, ["search", "-w", str(root), "--catalog", "local", "--collection", "s2",
                                    "--from", "2024-10-01", "--to", "2024-11-30"])  # fmt: skip
    assert "searched from the cache (" in res.output
    many = CliRunner().invoke(main, ["fetch", "-w", str(root), "--catalog", "local", "--collection", "s2",
                                     "--from", "2024-10-01", "--to", "2024-11-30", "--json"])  # fmt: skip
    assert json.loads(many.stdout)["sites"][0]["search_cached_at"].endswith("Z")  # every site: a group's search
    res = _fetch(root, "s2", "--refresh", "--json")
    assert json.loads(res.stdout)["search_cached_at"] is None


@pytest.mark.parametrize(("answer", "said"), [
    ((500, "text/html", b"<html>Internal Server Error</html>", {}),
     "search failed (HTTP 500, its server failed: asked 2 times; try again later)"),
    ((429, "application/json", b'{"code": "TooManyRequests"}', {"Retry-After": "0"}),
     "search failed (HTTP 429, too many requests: asked 2 times, as its Retry-After said; try again later)"),
    ((200, "text/html", b"<html>sign in to the proxy</html>", {}), "did not answer as a STAC API does"),
])  # fmt: skip
def test_a_catalogue_failing_is_named_by_its_url_and_what_was_fetched_stays(catalogue, answer, said):
    """A catalogue named in sitewatch.toml that failed was named by its name alone ("local search failed (HTTP 500)"):
    which URL, and that a rate limit or a server error passes, were not said."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state, root = catalogue
    _fetch(root, "s2")
    files = _files(root)
    status, ctype, body, headers = answer

    class Failing(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status)
            for k, v in {"Content-Type": ctype, "Content-Length": str(len(body)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stac"
    try:
        (root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{url}"\n', encoding="utf-8")
        res = CliRunner().invoke(main, ["fetch", "port", "-w", str(root), "--catalog", "local", "--collection", "s2",
                                        "--from", "2024-10-01", "--to", "2024-11-30", "--refresh", "--retries", "1"])  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert res.exit_code == 1
    assert f"Error: local ({url}) {said}" in res.output, res.output
    now = _files(root)
    assert {k: v for k, v in now.items() if k != "sitewatch.toml"} == {k: v for k, v in files.items() if k != "sitewatch.toml"}
    # (the observations fetched before, untouched: nothing but the toml written here)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_fetch_stopped_mid_item_by_a_signal_leaves_nothing_half_written_and_the_rerun_completes(catalogue, sig):
    """Ctrl-C, `kill` or SIGKILL while the third item's assets come in (a slow catalogue), then the same fetch again."""
    import os
    import signal
    import subprocess
    import time

    state, root = catalogue
    state.items = [_s2_item(state.files, state.url, f"S2A_{d}_202410{d}", f"2024-10-{d}T01:53:49Z") for d in range(11, 16)]
    state.delay = 0.05
    args = [sys.executable, "-m", "sitewatch", "fetch", "port", "-w", str(root), "--catalog", "local", "--collection",
            "s2", "--from", "2024-10-01", "--to", "2024-11-30"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    # As a terminal's Ctrl-C: a background job (as CI may run the tests) starts with SIGINT ignored.
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        while not any("S2A_13_" in p for _, p, _ in list(state.log)) and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}[sig], err
    half = [p for p in root.rglob("*") if "partial" in p.name or p.name.startswith("sitewatch-item-")]
    assert not half or sig == "SIGKILL", half  # (SIGKILL's partial files: the rerun removes them)
    with sqlite3.connect(root / "sitewatch.gpkg") as db:
        paths = [r[0] for r in db.execute("SELECT path FROM observations")]
    assert len(paths) < 5 and all((root / p).is_file() for p in paths)  # every row's COG there
    state.delay = 0.0
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"fetched {5 - len(paths)}, skipped {len(paths)}, failed 0" in res.stdout
    with sqlite3.connect(root / "sitewatch.gpkg") as db:
        ids = [r[0] for r in db.execute("SELECT observation_id FROM observations ORDER BY observation_id")]
    assert ids == [f"port/S2A_{d}_202410{d}" for d in range(11, 16)]  # each once
    assert sorted(p.name for p in (root / "archive" / "port").iterdir()) == sorted(
        f"S2A_{d}_202410{d}{ext}" for d in range(11, 16) for ext in (".tif", ".stac.json"))


def test_a_catalogue_not_listening_is_named_by_its_url(catalogue):
    import socket

    state, root = catalogue
    _fetch(root, "s2")
    files = _files(root)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/stac"
    (root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{url}"\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["fetch", "port", "-w", str(root), "--catalog", "local", "--collection", "s2",
                                    "--from", "2024-10-01", "--to", "2024-11-30", "--refresh", "--retries", "0"])  # fmt: skip
    assert res.exit_code == 1 and f"Error: local ({url}): could not reach 127.0.0.1" in res.output, res.output
    assert {k: v for k, v in _files(root).items() if k != "sitewatch.toml"} == {
        k: v for k, v in files.items() if k != "sitewatch.toml"}


def test_a_pass_reprocessed_under_a_new_id_is_said_to_be_one_not_another_catalogue(catalogue):
    """Earth Search's S2B_…_0_L2A reprocessed as S2B_…_1_L2A: the new item was skipped as "already archived (another
    catalogue or collection)", which it was not: same catalogue, same collection."""
    state, root = catalogue
    _fetch(root, "s2")
    state.items[0] = _s2_item(state.files, state.url, "S2A_A_20241005_1", "2024-10-05T01:53:49Z", dn=3000)
    res = _fetch(root, "s2", "--refresh", "--json")
    reason = {s["item_id"]: s["reason"] for s in json.loads(res.stdout)["skipped"]}["S2A_A_20241005_1"]
    assert reason == ("same acquisition as port/S2A_A_20241005, already archived (from this catalogue and collection, "
                      "under another id: another tile of this pass, or a version the provider has since reprocessed "
                      "under a new id): one observation per moment; to take this one instead, `sitewatch observations "
                      "remove port/S2A_A_20241005` and fetch again")
    # The way it gives, followed: the new version fetched in the old one's stead, whose image leaves the archive.
    step = reason.split("`")[1]
    res = CliRunner().invoke(main, [*shlex.split(step)[1:], "-w", str(root)])
    assert res.exit_code == 0, res.output
    _fetch(root, "s2", "--refresh")
    with open_workspace(root).store() as store:
        ids = [o.id for o in store.observations("port")]
    assert "port/S2A_A_20241005_1" in ids and "port/S2A_A_20241005" not in ids
    assert not [p for p in (root / "archive" / "port").iterdir() if p.name.startswith("S2A_A_20241005.")]


def test_an_observation_removed_is_fetched_again_while_the_catalogue_lists_it(catalogue):
    """`observations remove` takes a fetched observation out; the catalogue still lists its item, so the next fetch of
    its period takes it in again, as README says."""
    state, root = catalogue
    _fetch(root, "s2")
    res = CliRunner().invoke(main, ["observations", "remove", "port/S2A_A_20241005", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert not (root / "archive" / "port" / "S2A_A_20241005.tif").exists()
    _fetch(root, "s2")
    with open_workspace(root).store() as store:
        assert "port/S2A_A_20241005" in [o.id for o in store.observations("port")]


def _killed_before_its_row(root: Path, item: str) -> list[Path]:
    """What a fetch killed between moving an item's COG (and STAC sidecar) into place and committing its row left:
    both files whole at their final names, no row naming them (an archived item's files copied under another id),
    each with the marker commit_archived puts beside it before its rename."""
    from sitewatch.ingest.removal import unrecorded_marker

    folder = root / "archive" / "port"
    planted = []
    for src in sorted(folder.glob("S2A_A_20241005.*")):
        dest = folder / src.name.replace("S2A_A_20241005", item)
        unrecorded_marker(dest).touch()
        dest.write_bytes(src.read_bytes())
        planted.append(dest)
    return planted


def test_a_cog_no_row_names_goes_with_the_next_fetch_once_left_alone(catalogue, monkeypatch):
    """A fetch killed (SIGKILL) between a COG's rename into the archive and its row's commit left a COG no row named:
    the next fetch of that item wrote over it, but an item never fetched again (the catalogue withdrew it) stayed
    for good. The next fetch of the site removes such files once they have been left alone UNRECORDED_MIN_AGE_S,
    and says so; younger ones, hidden partial files and the files rows name stay."""
    from sitewatch.ingest import removal

    state, root = catalogue
    _fetch(root, "s2")
    planted = _killed_before_its_row(root, "S2A_GONE_20241001")
    assert len(planted) >= 2  # the COG and its STAC item
    partial = root / "archive" / "port" / ".S2A_X.tif.1-host-r.partial"
    partial.write_bytes(b"")
    kept = _files(root)
    # Just written (as a command's COG in flight would be): left alone.
    out = _fetch(root, "s2").output
    assert all(p.exists() for p in planted) and "no observation named" not in out
    monkeypatch.setattr(removal, "UNRECORDED_MIN_AGE_S", 0.0)
    res = CliRunner().invoke(main, ["fetch", "port", "-w", str(root), "--catalog", "local", "--collection", "s2",
                                    "--from", "2024-10-01", "--to", "2024-11-30", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    gone = sorted(p.relative_to(root).as_posix() for p in planted)
    assert sorted(json.loads(res.stdout)["unrecorded_removed"]) == gone
    assert "removed 2 file(s) from port's archive that no observation named" in res.stderr, res.stderr
    assert not any(p.exists() for p in planted)
    # The archived observations' COGs and sidecars, and the partial file, are untouched (bytes, times and inodes).
    now = _files(root)
    assert partial.exists()
    assert not list((root / "archive" / "port").glob(".*.unrecorded"))  # the markers went with their files
    archived = [k for k in kept if k.startswith("archive/") and k not in gone and not k.endswith(".unrecorded")]
    assert {k: kept[k] for k in archived} == {k: v for k, v in now.items() if k.startswith("archive/")}


def test_a_cog_being_recorded_by_another_command_is_not_taken_for_one_left_behind(catalogue):
    """Another command holds the site's lock between moving its COG into place and committing its row: the sweep
    waits for the lock, then finds the row and leaves the file."""
    import dataclasses
    import threading
    import time

    from shapely.geometry import box as bbox

    from sitewatch.ingest.removal import remove_unrecorded

    state, root = catalogue
    _fetch(root, "s2")
    (cog, *_) = [p for p in _killed_before_its_row(root, "S2A_LATE_20241002") if p.suffix == ".tif"]
    ws = open_workspace(root)
    started, done = threading.Event(), threading.Event()

    def other_command() -> None:
        with ws.store() as other:
            (held,) = [o for o in other.observations("port") if o.id == "port/S2A_A_20241005"]
            late = dataclasses.replace(held, id="port/S2A_LATE_20241002", path=cog.relative_to(root).as_posix(),
                                       scene=dataclasses.replace(held.scene, item_id="S2A_LATE_20241002"))  # fmt: skip
            with other.transaction() as db:
                other._lock(db, "site port")
                other.put_observation(late, footprint=bbox(0, 0, 1, 1))
                started.set()
                time.sleep(1.0)  # the COG is in place, its row not yet committed
        done.set()

    thread = threading.Thread(target=other_command)
    thread.start()
    assert started.wait(30)
    with ws.store() as store:
        removed = remove_unrecorded(ws, store, "port", min_age_s=0.0)
    thread.join()
    assert done.is_set() and cog.exists() and cog not in removed
