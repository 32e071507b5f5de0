"""`sitewatch ingest` called the way a new user first calls it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sitewatch.cli import main


def test_ingest_of_a_file_without_a_site_says_to_name_the_site(tmp_path: Path) -> None:
    # `sitewatch ingest scene.tif` took the file for SITE_ID and answered "give PATHS or --band".
    scene = tmp_path / "scene.tif"
    scene.write_bytes(b"")
    r = CliRunner().invoke(main, ["init", str(tmp_path / "ws")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["ingest", str(scene), "-w", str(tmp_path / "ws")])
    assert r.exit_code == 1 and "is a file, not a site: name the site first" in r.output, r.output
    assert f"sitewatch ingest SITE_ID {scene}" in r.output, r.output
