"""The same files give the same observations whatever the order they are given in: two images of one name in a
run (Sentinel Hub's ``response.tiff``) take their ids by acquisition time, not by their place on the command line
or in a folder's listing (which differs between file systems)."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

SITE = tiny_site("pier")
TIMES = {"a": "2024-10-17T09:30:00Z", "b": "2024-10-18T09:30:00Z", "c": "2024-10-16T09:30:00Z"}


def _responses(folder: Path) -> dict[str, Path]:
    """Three SAR images over SITE, each called ``response.tif`` in a folder of its own, taken on TIMES."""
    crs, x0, y0 = site_utm_origin(SITE)
    rng = np.random.default_rng(3)
    out = {}
    for name, when in TIMES.items():
        (folder / name).mkdir(parents=True)
        data = rng.gamma(1.0, 0.02, size=(1, 120, 110)).astype(np.float32)
        out[name] = write_tiff(folder / name / "response.tif", data, crs=crs, transform=Affine(20, 0, x0, 0, -20, y0),
                               descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": when})  # fmt: skip
    return out


def _ids_by_time(root: Path) -> dict[str, str]:
    import sqlite3

    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db:
        return dict(db.execute("SELECT substr(acquired, 1, 10), observation_id FROM observations").fetchall())


@pytest.mark.parametrize("command", ["ingest", "import"])
def test_two_images_of_one_name_take_the_same_ids_in_any_order(tmp_path: Path, command: str) -> None:
    files = _responses(tmp_path / "in")
    seen = []
    for k, order in enumerate(("abc", "cba", "bac")):
        ws = workspace_with_sites(tmp_path / f"ws{k}", SITE)
        target = [SITE.id] if command == "ingest" else []
        res = CliRunner().invoke(main, ["-q", command, *target, *(str(files[c]) for c in order), "-w", str(ws.root),
                                        "--workers", "1", "--json"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert len(json.loads(res.stdout)["ingested" if command == "ingest" else "imported"]) == 3
        seen.append(_ids_by_time(ws.root))
    # The earliest image keeps the plain name, as it would had it come in a day before the others.
    assert seen[0] == {"2024-10-16": "pier/response", "2024-10-17": "pier/response_20241017T093000",
                       "2024-10-18": "pier/response_20241018T093000"}  # fmt: skip
    assert seen[1] == seen[0] and seen[2] == seen[0]


def test_a_rerun_in_another_order_replaces_the_same_observations(tmp_path: Path) -> None:
    files = _responses(tmp_path / "in")
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    for order in ("abc", "cba"):
        res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *(str(files[c]) for c in order), "-w", str(ws.root),
                                        "--workers", "1", "--json"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert all(r["replaced"] == (order == "cba") for r in json.loads(res.stdout)["ingested"])
    assert len(_ids_by_time(ws.root)) == 3
