"""The detection stage's checks of its settings (vessel length limits, workers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.detection import check_length_limits
from sitewatch.errors import ConfigError
from sitewatch.ingest import ingest_file
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

SITE = tiny_site()


@pytest.fixture()
def ws_with_sar(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    tif = write_tiff(
        tmp_path / "s1.tif",
        data,
        crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0),
        descriptions=["VV"],
        tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"},
    )
    with ws.store() as store:
        ingest_file(ws, store, SITE, tif)
    return ws


def test_limits_checked_only_against_the_detectors_that_run() -> None:
    check_length_limits(480, None, ["sar"])  # SAR's own longest is 500 m
    with pytest.raises(
        ConfigError, match=r"SITEWATCH_MIN_VESSEL_LENGTH_M.*optical detector's own are 20 and 450"
    ):
        check_length_limits(480, None, ["sar", "optical"])
    with pytest.raises(ConfigError, match="max_vessel_length_m"):
        check_length_limits(None, 10, ["sar"])


def test_cli_detect_names_the_length_setting(ws_with_sar) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(
        main,
        ["detect", SITE.id, "-w", str(ws_with_sar.root), "--workers", "1"],
        env={"SITEWATCH_MIN_VESSEL_LENGTH_M": "600"},
    )
    assert res.exit_code == 1, res.output
    assert "SITEWATCH_MIN_VESSEL_LENGTH_M" in res.output and "Traceback" not in res.output


def test_cli_detect_refuses_negative_workers(ws_with_sar) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(
        main, ["detect", SITE.id, "-w", str(ws_with_sar.root), "--workers", "-3"]
    )
    assert res.exit_code == 2, res.output  # click's usage error, naming the option
    assert "Invalid value for '--workers': -3" in res.output


def test_cli_ingest_names_a_bad_cog_compress(ws_with_sar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (ws_with_sar.root / "sitewatch.toml").write_text("[settings]\ncog_compress = 'jpeg'\n")
    tif = next(tmp_path.glob("s1.tif"))
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(tif), "-w", str(ws_with_sar.root)])
    assert res.exit_code == 1, res.output
    assert "cog_compress must be one of deflate, zstd, lzw, got 'jpeg'" in res.output
    assert "Traceback" not in res.output and "JPEGSetupEncode" not in res.output
