"""Claims judged on local dates (``claims check --utc-offset``, ``report --utc-offset --claims``).

An image taken 16 Oct 23:30 UTC is on 17 Oct at a pier at UTC+10: a claim "a vessel there on 17 October",
in the local dates investigators write, rests on it with the offset and finds no image without it; the
report's claims agree with its timeline's dates.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from _report_world import CRS, CX, CY, _ship, _wgs, _write_cog, site
from sitewatch.cli import main
from sitewatch.model import Detection, Grid, Observation, SceneRef
from sitewatch.vessels import class_candidates
from sitewatch.workspace import Workspace, init_workspace

LATE = datetime(2024, 10, 16, 23, 30, tzinfo=UTC)
"""16 Oct 23:30 UTC: 17 Oct 09:30 at UTC+10."""


def _late_ship(root: Path) -> Workspace:
    """A workspace with one SAR image, taken at :data:`LATE`, of a 118 m vessel at pier-1."""
    ws = init_workspace(root)
    st = ws.store()
    st.put_site(site())
    item = "sim-dunai-late-sar"
    rel = f"archive/dunai/{item}.tif"
    sha = _write_cog(root / rel, 10.0, "sar", [_ship(0, 5, 113.0, 15.4)])
    scene = SceneRef("simulator", "test", item, "sar", LATE, 10.0, simulated=True, platform="sim")
    obs = Observation(f"dunai:{item}", "dunai", scene, Grid(CRS, (10.0, 0.0, CX - 600.0, 0.0, -10.0, CY + 600.0), 120, 120),
                      rel, sha, 1.0, None, {})  # fmt: skip
    st.put_observation(obs)
    st.replace_detections(obs, [Detection(
        f"{obs.id}#0", obs.id, "vessel", _wgs(_ship(3, 4, 118.0, 16.0)), 118.0, 16.0, 90.0, 0.95, "sar-test", "0.1",
        berth_id="pier-1", class_candidates=class_candidates(118.0, 16.0, 10.0),
    )])  # fmt: skip
    st.close()
    return ws


def _claims(tmp_path: Path, day: Any = "2024-10-17", cid: str = "ship-17") -> Path:
    path = tmp_path / f"{cid}.yaml"
    path.write_text(yaml.safe_dump({"claims": [{
        "id": cid, "text": "a vessel at the pier on 17 October (local)", "source": "a think tank",
        "sites": ["dunai"], "date": day, "assert": {"kind": "vessel_present", "berth": "pier-1"},
    }]}), encoding="utf-8")  # fmt: skip
    return path


def _check(ws: Workspace, claims: Path, *extra: str) -> dict[str, Any]:
    res = CliRunner().invoke(main, ["claims", "check", str(claims), "-w", str(ws.root), "--json", *extra])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def test_an_image_late_on_16_october_utc_supports_a_claim_of_17_october_at_utc_plus_10(tmp_path: Path) -> None:
    ws = _late_ship(tmp_path / "ws")
    claims = _claims(tmp_path)
    utc = _check(ws, claims)
    assert utc["claims"][0]["verdict"] == "not testable" and utc["date_zone"] == "UTC" and utc["utc_offset_hours"] == 0
    local = _check(ws, claims, "--utc-offset", "10")
    ship = local["claims"][0]
    assert ship["verdict"] == "supported", ship["reason"]
    assert ship["parts"][0]["dates_tested"] == ["2024-10-17"]
    assert [im["observation_id"] for im in ship["images"]] == ["dunai:sim-dunai-late-sar"]
    assert local["date_zone"] == "UTC+10" and local["utc_offset_hours"] == 10
    # A verdicts file handed on names the sitewatch and the timeline's parameters that decided it (it named neither).
    from sitewatch import __version__

    assert utc["sitewatch_version"] == local["sitewatch_version"] == __version__
    assert local["timeline_parameters"]["utc_offset_hours"] == 10 and utc["timeline_parameters"]["max_cloud_fraction"] == 0.2
    # The same image is no longer on 16 October: a claim of that date finds no image there.
    sixteenth = _claims(tmp_path, "2024-10-16", "ship-16")
    assert _check(ws, sixteenth)["claims"][0]["verdict"] == "supported"
    assert _check(ws, sixteenth, "--utc-offset", "+10:00")["claims"][0]["verdict"] == "not testable"


def test_the_table_says_the_claims_dates_are_local_and_says_nothing_new_in_utc(tmp_path: Path) -> None:
    ws = _late_ship(tmp_path / "ws")
    claims = _claims(tmp_path)
    res = CliRunner().invoke(main, ["claims", "check", str(claims), "-w", str(ws.root), "--utc-offset", "10"],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Claim dates are local dates at UTC+10" in res.output
    assert "1 supported, 0 contradicted, 0 not testable of 1 claim(s) checked" in res.output
    res = CliRunner().invoke(main, ["claims", "check", str(claims), "-w", str(ws.root)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "local dates" not in res.output
    assert "0 supported, 0 contradicted, 1 not testable of 1 claim(s) checked" in res.output


def test_the_reports_claims_are_judged_on_its_timelines_local_dates(tmp_path: Path) -> None:
    ws = _late_ship(tmp_path / "ws")
    claims = _claims(tmp_path)
    for offset, verdict in ((None, "not testable"), ("10", "supported")):
        out = tmp_path / f"report-{offset}.html"
        args = ["report", "-w", str(ws.root), "--out", str(out), "--claims", str(claims)]
        res = CliRunner().invoke(main, args + (["--utc-offset", offset] if offset else []))
        assert res.exit_code == 0, res.output
        html = out.read_text(encoding="utf-8")
        assert f"Claim ship-17 (2024-10-17): <a class=\"{'good' if offset else ''}\"" in html, html
        assert f'>{verdict}<span class="vh">: claim ship-17</span></a>' in html  # (read out with its claim's id)
    # The timeline of that report has the image on 17 October, and the claims table heads its dates alike.
    assert "2024-10-17" in html and "dates (local, UTC+10)" in html and "Claim dates are local dates at UTC+10" in html


def test_a_time_with_a_zone_is_refused_naming_the_local_date_it_would_be_compared_on(tmp_path: Path) -> None:
    ws = _late_ship(tmp_path / "ws")
    claims = _claims(tmp_path, "2024-10-17T20:00:00+00:00")  # 06:00 on 18 October at UTC+10
    res = CliRunner().invoke(main, ["claims", "check", str(claims), "-w", str(ws.root), "--utc-offset", "10"])
    assert res.exit_code == 1
    assert "claim dates are local dates at UTC+10, and this time's is 2024-10-18" in res.stderr, res.stderr
    res = CliRunner().invoke(main, ["claims", "check", str(claims), "-w", str(ws.root)])
    assert res.exit_code == 1 and "claim dates are UTC dates, and this time's is 2024-10-17" in res.stderr, res.stderr
