"""A byte-identical copy of an image the site holds, given later without what described it (a Maxar file's .IMD):
the calibrated observation is kept, and the copy refused naming what it lacks (synthetic IMD and image)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.testing import workspace_with_sites
from sitewatch.workspace import init_workspace
from test_maxar_toa import CAL, NAME, SITE, _image, _imd


def _imd4() -> str:
    """The .IMD of a 4-band product (blue, green, red, NIR)."""
    return _imd({b: CAL[b] for b in ("B", "G", "R", "N")})


def _ingest(root: Path, *paths: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = CliRunner().invoke(main, ["ingest", SITE.id, *map(str, paths), "-w", str(root), "--workers", "1", "--json"])
    return r.exit_code, json.loads(r.stdout)


def _blue(root: Path, obs_id: str) -> tuple[float, dict]:  # type: ignore[type-arg]
    shown = json.loads(CliRunner().invoke(main, ["show", obs_id, "-w", str(root), "--json"]).stdout)
    with rasterio.open(root / shown["path"]) as cog:
        return float(cog.read(cog.descriptions.index("blue") + 1)[50, 50]), shown


@pytest.mark.parametrize(("command", "kind"), [("ingest", "geopackage"), ("import", "geopackage"), ("ingest", "postgis")])
def test_a_copy_without_the_imd_does_not_replace_the_calibrated_observation(
    tmp_path: Path, command: str, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "postgis":
        ws = init_workspace(tmp_path / "ws", request.getfixturevalue("pg_url"))
        with ws.store() as store:
            store.put_site(SITE)
    else:
        ws = workspace_with_sites(tmp_path / "ws", SITE)
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    tif = _image(delivery, count=4)
    (delivery / f"{NAME}.IMD").write_text(_imd4(), encoding="utf-8")
    code, out = _ingest(ws.root, tif)
    assert code == 0, out
    (obs,) = out["ingested"]
    calibrated, shown = _blue(ws.root, obs["id"])
    assert shown["provenance"]["maxar"]["platform"] == "worldview-3" and calibrated > 0.1

    # The same bytes in another folder, without the .IMD (a colleague's copy of the tile).
    bare = tmp_path / "copies" / f"{NAME}.TIF"
    bare.parent.mkdir()
    shutil.copyfile(tif, bare)
    if command == "ingest":
        code, out = _ingest(ws.root, bare)
        refused = out["refused"] + out["skipped"]
    else:
        r = CliRunner().invoke(main, ["import", str(bare), "-w", str(ws.root), "--workers", "1", "--json"])
        code, out = r.exit_code, json.loads(r.stdout)
        refused = out["refused"] + out["skipped"]
    # Before, it replaced the observation (exit 0): counts / 10,000 (blue 0.0301, not 0.205) and no platform.
    assert code != 0 and out.get("ingested", out.get("imported")) == [], out
    (why,) = refused
    assert why["file"] == str(bare), why
    reason = why["reason"]
    assert f"a byte-identical copy of {tif.resolve()}" in reason and obs["id"] in reason, reason
    assert f"calibrated by {(delivery / f'{NAME}.IMD').resolve()}" in reason and "worldview-3" in reason, reason
    again, shown = _blue(ws.root, obs["id"])
    assert again == calibrated and shown["provenance"]["source_path"] == str(tif.resolve())

    # With its .IMD beside it, the copy is as well described: it goes in as that observation again (the later path).
    (bare.parent / f"{NAME}.IMD").write_text(_imd4(), encoding="utf-8")
    code, out = _ingest(ws.root, bare)
    assert code == 0 and [o["id"] for o in out["ingested"]] == [obs["id"]], out
    assert _blue(ws.root, obs["id"])[0] == pytest.approx(calibrated)
