"""What an investigator reads after running the pipeline on real files: times, provenance, sources."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from click.testing import CliRunner

from _report_world import build
from sitewatch.cli import main
from sitewatch.model import DATE_ONLY_NOTE, acquired_label
from sitewatch.report.html import write_report
from sitewatch.workspace import Workspace


def _date_only(ws: Workspace) -> str:
    """Mark the optical look of 17 October as known by its date alone (an EO Browser export's name)."""
    with ws.store() as st:
        obs = next(o for o in st.observations("dunai") if o.id.endswith("2024-10-17-optical"))
        dets = st.detections(observation_id=obs.id)
        when = obs.scene.acquired.replace(hour=12)
        scene = dataclasses.replace(obs.scene, acquired=when)
        dated = dataclasses.replace(obs, scene=scene, provenance={"acquired_from": f"file name, date only ({DATE_ONLY_NOTE})"})
        st.put_observation(dated)
        st.replace_detections(dated, dets)
    return obs.id


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|script)[^>]*>.*?</\1>", "", html)))


def test_a_time_assumed_for_a_date_alone_is_never_shown_as_the_time_of_the_image(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", simulated=False)
    oid = _date_only(ws)
    text = _text(write_report(ws, None, tmp_path / "report.html").read_text())
    assert "2024-10-17 12:00" not in text and "2024-10-17 12:00:00Z" not in text
    assert "2024-10-17, time unknown" in text
    assert "2024-10-20 01:00 UTC" in text  # a time the file gave is shown as before
    table = CliRunner().invoke(main, ["observations", "dunai", "-w", str(ws.root)], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    (row,) = [line for line in table.output.splitlines() if oid in line]
    assert "time unknown" in row and "12:00" not in row
    with ws.store() as st:
        obs = st.get_observation(oid)
    assert acquired_label(obs) == "2024-10-17, time unknown"
