"""``sitewatch verify``: each archived image read against the sha256 recorded at ingest, for the chain of custody."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.model import Grid, Observation, SceneRef
from sitewatch.testing import site_utm_origin, tiny_site
from sitewatch.workspace import Workspace, init_workspace

SITE = tiny_site("pier")


def _archived(ws: Workspace, day: int) -> None:
    """An observation of day ``day`` whose archived file is a few bytes: verify reads bytes, not pixels."""
    rel = f"archive/pier/scene-{day}.tif"
    (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (ws.root / rel).write_bytes(b"II*\0" + bytes(range(day, day + 60)))
    crs, x0, y0 = site_utm_origin(SITE)
    scene = SceneRef("file", "local", f"scene-{day}", "sar", datetime(2024, 10, day, 9, 30, tzinfo=UTC), 10.0)
    obs = Observation(f"pier/scene-{day}", "pier", scene, Grid(crs, (10.0, 0.0, x0, 0.0, -10.0, y0), 20, 20), rel,
                      hashlib.sha256((ws.root / rel).read_bytes()).hexdigest(), 1.0, None,
                      {"ingested_at": "2026-12-01T08:00:00Z"})  # fmt: skip
    with ws.store() as store:
        store.put_observation(obs)


def test_verify_names_each_altered_missing_or_unreadable_image_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    """No command said whether an archived image was still the file that came in: an image edited or deleted
    in the archive was found only by `detect`, which then dropped the detections that evidence cites."""
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    for day in (17, 18, 19):
        _archived(ws, day)
    w = ["-w", str(ws.root)]
    res = CliRunner().invoke(main, ["verify", *w])
    assert res.exit_code == 0, res.output
    assert "3 archived image(s) checked: 3 unchanged since ingest" in res.stdout

    doc = json.loads(CliRunner().invoke(main, ["verify", "pier", *w, "--json"]).stdout)
    first, second, third = (ws.root / i["image"] for i in doc["images"])
    assert [i["acquired"] for i in doc["images"]] == [f"2024-10-{d}T09:30:00Z" for d in (17, 18, 19)]
    # As every other file of an evidence package: whether only the date is known, whether the imagery is simulated
    # (verify's said neither); and each member README's paragraph names.
    assert [(i["acquired_date_only"], i["simulated"]) for i in doc["images"]] == [(False, False)] * 3
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_][a-z0-9_]*)`", readme[readme.index("- **`verify [SITE]...`**"):readme.index("- **The verdicts**")]))
    assert set(doc) - named == set() and set(doc["images"][0]) - named == set()
    with first.open("r+b") as fh:  # one byte of the pixels changed
        fh.seek(first.stat().st_size - 10)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 1]))
    second.unlink()
    third.unlink()
    third.mkdir()
    db = (ws.root / "sitewatch.gpkg").read_bytes()

    res = CliRunner().invoke(main, ["verify", *w])
    assert res.exit_code == 1, res.output
    out = " ".join(res.stdout.split())
    now = hashlib.sha256(first.read_bytes()).hexdigest()
    assert f"pier/{first.stem}: ALTERED: archive/pier/{first.name} has sha256 {now}, not the " in out
    assert f"pier/{second.stem}: MISSING: archive/pier/{second.name} is not there" in out
    assert f"pier/{third.stem}: UNREADABLE: archive/pier/{third.name} cannot be read (not a file)" in out
    assert "3 archived image(s) checked: 0 unchanged since ingest, 1 altered, 1 missing, 1 unreadable" in out
    assert "Error: 3 of the 3 archived image(s) are not the files recorded at ingest" in " ".join(res.stderr.split())

    res = CliRunner().invoke(main, ["verify", "pier", *w, "--json"])
    assert res.exit_code == 1 and res.stdout.lstrip().startswith("{"), res.output
    doc = json.loads(res.stdout)
    assert (doc["checked"], doc["unchanged"], doc["altered"], doc["missing"], doc["unreadable"]) == (3, 0, 1, 1, 1)
    assert [(i["status"], i["sha256"]) for i in doc["images"]] == [("altered", now), ("missing", None), ("unreadable", None)]
    assert all(len(i["recorded_sha256"]) == 64 and i["ingested_at"].endswith("Z") for i in doc["images"])
    assert (ws.root / "sitewatch.gpkg").read_bytes() == db  # read-only: nothing recorded, nothing dropped

    res = CliRunner().invoke(main, ["verify", "quay", *w])
    assert res.exit_code == 1 and "no site 'quay'" in res.output


def test_verify_says_the_archive_is_not_there_rather_than_every_image_deleted(tmp_path: Path) -> None:
    """An archive on a disk not mounted (a team store's shared folder not seen here) was reported as every image
    MISSING, with the advice to restore each from a backup or ingest it again; `detect` refuses so, naming the folder."""
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    _archived(ws, 17)
    w = ["-w", str(ws.root)]
    disk = tmp_path / "disk"
    (ws.root / "archive").rename(disk)
    res = CliRunner().invoke(main, ["verify", *w])
    assert res.exit_code == 1, res.output
    assert "MISSING: archive/pier/scene-17.tif is not there; its folder archive/pier is not there either" in \
        " ".join(res.stdout.split())
    err = " ".join(res.stderr.split())
    assert "archive's folder(s) archive/pier are not there at all" in err and "from a backup" not in err
    res = CliRunner().invoke(main, ["verify", *w, "--json"])
    assert json.loads(res.stdout)["images"][0]["reason"] == "its folder archive/pier is not there either"
    # archive/ a link to the disk: checked there; the disk unplugged, the link is named and no image is checked.
    (ws.root / "archive").symlink_to(disk, target_is_directory=True)
    assert CliRunner().invoke(main, ["verify", *w]).exit_code == 0
    disk.rename(tmp_path / "elsewhere")
    res = CliRunner().invoke(main, ["verify", *w, "--json"])
    assert res.exit_code == 1 and res.stdout == "", res.output
    assert f"{ws.root / 'archive'} is a symlink to {disk}, which does not exist" in " ".join(res.stderr.split())
