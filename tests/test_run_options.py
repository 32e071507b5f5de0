"""The run options of the commands that bring imagery in or detect: ``ingest`` and ``import`` take
``--workers`` as ``detect`` does (the advice after a worker died names it), and ``ingest --json``
reports what ``import --json`` reports."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

SITE = tiny_site("pier")
FAR = tiny_site("elsewhere", lon=140.0, lat=45.0)
QUAY = tiny_site("quay", lon=132.341, lat=42.882, half_deg=0.004)  # inside SITE: import puts each file in both


def _scenes(folder: Path, n: int = 3) -> list[Path]:
    """``n`` SAR files over SITE, each another image (other values, other date in the name)."""
    folder.mkdir(parents=True, exist_ok=True)
    crs, x0, y0 = site_utm_origin(SITE)
    rng = np.random.default_rng(7)
    out = []
    for k in range(n):
        data = (rng.gamma(1.0, 0.02, size=(1, 120, 110)) + 0.01 * k).astype(np.float32)
        out.append(write_tiff(folder / f"pier_2024101{k}T0930{k}0.tif", data, crs=crs,
                              transform=Affine(20, 0, x0, 0, -20, y0), descriptions=["VV"]))  # fmt: skip
    return out


def _stored(root: Path) -> list[tuple[object, ...]]:
    import sqlite3

    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db:
        return db.execute(
            "SELECT observation_id, sha256, valid_fraction, acquired, sensor, path FROM observations ORDER BY observation_id"
        ).fetchall()


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, ["-q", *args])


@pytest.mark.parametrize("command", ["ingest", "import"])
def test_workers_one_and_two_store_the_same_observations(tmp_path: Path, command: str) -> None:
    """Three files (map_jobs runs two or fewer in this process): in worker processes or not, the
    same observations, the same COGs byte for byte."""
    files = _scenes(tmp_path / "in")
    stored = []
    for workers in ("1", "2"):
        ws = workspace_with_sites(tmp_path / f"ws{workers}", SITE, FAR, QUAY)
        target = ["pier"] if command == "ingest" else []
        res = _invoke(command, *target, str(tmp_path / "in"), "-w", str(ws.root), "--workers", workers)
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
        stored.append(_stored(ws.root))
    assert len(stored[0]) == len(files) * (1 if command == "ingest" else 2)
    assert stored[0] == stored[1]


def test_import_in_workers_names_two_files_of_one_name_apart(tmp_path: Path) -> None:
    """Ids are chosen before the files go to the workers: two images called ``response.tif`` (Sentinel
    Hub's name for every download) in one run are two observations, not one replacing the other."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    files = _scenes(tmp_path / "in")
    for k, f in enumerate(files):
        (tmp_path / f"d{k}").mkdir()
        f.rename(tmp_path / f"d{k}" / "response.tif")
    res = _invoke("import", *(str(tmp_path / f"d{k}") for k in range(3)), "-w", str(ws.root), "--workers", "2", "--json",
                  "--acquired", "2024-10-10T09:30Z")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    ids = sorted(r["id"] for r in json.loads(res.stdout)["imported"])  # type: ignore[attr-defined]
    assert len(set(ids)) == 3 and "pier/response" in ids
    assert [r[0] for r in _stored(ws.root)] == ids


def test_import_json_says_which_observations_replaced_one(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    files = _scenes(tmp_path / "in")
    first = _invoke("import", str(files[0]), "-w", str(ws.root), "--json")
    assert [r["replaced"] for r in json.loads(first.stdout)["imported"]] == [False]  # type: ignore[attr-defined]
    again = _invoke("import", *map(str, files), "-w", str(ws.root), "--json", "--workers", "2")
    rows = {Path(r["file"]).name: r["replaced"] for r in json.loads(again.stdout)["imported"]}  # type: ignore[attr-defined]
    assert rows == {files[0].name: True, files[1].name: False, files[2].name: False}
    assert not any(r["replaced_sha256"] for r in json.loads(again.stdout)["imported"])  # type: ignore[attr-defined]
    # The file delivered again with other pixels: its archived image is another file now, and import said nothing
    # of it beyond "(replaced)", as for a rerun of the same bytes.
    before = {str(r[0]): r[1] for r in _stored(ws.root)}
    with rasterio.open(files[0], "r+") as ds:
        ds.write(ds.read(1) * 1.5, 1)
    third = _invoke("import", str(files[0]), "-w", str(ws.root), "--json")
    (row,) = json.loads(third.stdout)["imported"]  # type: ignore[attr-defined]
    assert row["replaced"] and row["replaced_sha256"] == before[row["id"]] != {str(r[0]): r[1] for r in _stored(ws.root)}[row["id"]]
    assert f"note: {row['id']}: its archived image was replaced by another file, from {files[0]} (sha256 " \
        f"{before[row['id']]} before" in third.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["ingest", "import", "detect"])
@pytest.mark.parametrize("value", ["-1", "two"])
def test_a_bad_workers_value_is_refused_naming_it(tmp_path: Path, command: str, value: str) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    (path,) = _scenes(tmp_path / "in", 1)
    args = {"ingest": ["pier", str(path)], "import": [str(path)], "detect": ["pier"]}[command]
    res = _invoke(command, *args, "-w", str(ws.root), "--workers", value)
    assert res.exit_code == 2, res.output  # type: ignore[attr-defined]
    assert "Invalid value for '--workers'" in res.output  # type: ignore[attr-defined]
    assert value in res.output  # type: ignore[attr-defined]
    assert _stored(ws.root) == []


def test_workers_option_overrides_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--workers 1`` runs with a bad SITEWATCH_WORKERS set, as detect's does (flag > env)."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    _scenes(tmp_path / "in", 1)
    monkeypatch.setenv("SITEWATCH_WORKERS", "-1")
    assert _invoke("ingest", "pier", str(tmp_path / "in"), "-w", str(ws.root)).exit_code == 1  # type: ignore[attr-defined]
    res = _invoke("ingest", "pier", str(tmp_path / "in"), "-w", str(ws.root), "--workers", "1")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert len(_stored(ws.root)) == 1


def test_ingest_json_counts_match_its_text(tmp_path: Path) -> None:
    """ingest --json: the observations put in (with ids, and whether each replaced one), the files
    refused and those that miss the site, each with its reason, and the repeats; the same counts as
    the text output, and in import --json's shape."""
    files = _scenes(tmp_path / "in")
    crs, x0, y0 = site_utm_origin(FAR)
    write_tiff(tmp_path / "in" / "far_20241015T093000.tif", np.ones((1, 40, 40), np.float32), crs="EPSG:32654",
               transform=Affine(20, 0, 200000, 0, -20, 5000000), descriptions=["VV"])  # fmt: skip
    (tmp_path / "in" / "broken.tif").write_bytes(b"not a tiff")
    copy = tmp_path / "copy.tif"
    copy.write_bytes(files[0].read_bytes())
    args = ["pier", str(tmp_path / "in"), str(copy), "--workers", "1"]

    ws_text = workspace_with_sites(tmp_path / "text", SITE)
    text = CliRunner().invoke(main, ["-q", "ingest", *args, "-w", str(ws_text.root)])
    assert text.exit_code == 3, text.output
    assert "ingested 3 observation(s) into 'pier'" in text.stdout
    assert text.stdout.count("duplicate:") == 1
    assert text.stderr.count("skipped:") == 2

    ws = workspace_with_sites(tmp_path / "json", SITE)
    res = CliRunner().invoke(main, ["ingest", *args, "-w", str(ws.root), "--json"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)  # standard output holds the document alone
    assert set(doc) == {"site", "ingested", "refused", "skipped", "duplicates", "unchanged", "unrecorded_removed"}
    assert doc["unchanged"] == []  # files left out unread by --new-only: none without it
    assert doc["unrecorded_removed"] == []  # no killed run left a file behind
    assert doc["site"] == "pier"
    assert len(doc["ingested"]) == 3
    assert sorted(r["id"] for r in doc["ingested"]) == sorted(r[0] for r in _stored(ws.root))
    assert {Path(r["file"]).name for r in doc["ingested"]} == {f.name for f in files}
    assert not any(r["replaced"] for r in doc["ingested"])
    row = next(r for r in doc["ingested"] if r["file"].endswith(files[0].name))
    assert row["acquired"] == "2024-10-10T09:30:00Z" and row["acquired_date_only"] is False
    assert row["sensor"] == "sar" and 0 < row["valid_pct"] <= 100
    (refused,) = doc["refused"]
    assert Path(refused["file"]).name == "broken.tif" and refused["reason"]
    (skipped,) = doc["skipped"]
    assert Path(skipped["file"]).name == "far_20241015T093000.tif" and "no valid pixel" in skipped["reason"]
    assert doc["duplicates"] == [{"file": str(copy), "same_as": str(files[0])}]
    # What failed is named on standard error too, as import --json does.
    assert res.stderr.count("skipped:") == 2

    again = CliRunner().invoke(main, ["ingest", "pier", *map(str, files), "-w", str(ws.root), "--json"])
    assert again.exit_code == 0, again.output
    assert [r["replaced"] for r in json.loads(again.stdout)["ingested"]] == [True, True, True]
    assert [r["replaced_sha256"] for r in json.loads(again.stdout)["ingested"]] == [None, None, None]
    assert "its archived image was replaced by another file" not in again.stderr
    before = {str(r[0]): r[1] for r in _stored(ws.root)}
    with rasterio.open(files[0], "r+") as ds:  # delivered again with other pixels
        ds.write(ds.read(1) * 1.5, 1)
    third = CliRunner().invoke(main, ["-q", "ingest", "pier", str(files[0]), "-w", str(ws.root)])
    (oid,) = [k for k, v in {str(r[0]): r[1] for r in _stored(ws.root)}.items() if v != before[k]]
    assert f"note: {oid}: its archived image was replaced by another file, from {files[0]} (sha256 {before[oid]} before" \
        in " ".join(third.stderr.split())
