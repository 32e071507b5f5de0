"""A command run again with nothing new writes no byte of what ``alerts check`` reads.

The database notes each insert, delete and change of an input row (``input_changes``, alert_window.py), and ``alerts
check`` gives its window up for the whole history when a noted change lies in the past. An ``import`` of a folder
that keeps every file, an ``ingest`` or ``sites import`` run again, a ``detect`` with nothing new: each wrote its
rows back with the same meaning in other bytes (a new ``ingested_at``, the provenance through ``json_set`` or
``jsonb``, berths deleted and put again, a detection state the upsert kept but its insert did not hold), so the
next check read years of history. Each test runs the real commands on both stores.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from sitewatch.alert_window import evaluate_window
from sitewatch.alerts import load_rules
from sitewatch.cli import main
from sitewatch.workspace import init_workspace, open_workspace

RULES = {"rules": [{"id": "arr", "kind": "arrival", "sites": ["dunai"]},
                   {"id": "busy", "kind": "vessel_count", "sites": ["dunai"], "above": 0}]}  # fmt: skip


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five days of the seed story's images of Dunai (SAR daily, optical), with its layout."""
    from sitewatch.sources.simulate import load_scenario, shorten, simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(shorten(load_scenario("seed-story"), days=5, start=date(2024, 10, 14), sites=["dunai"]), out)
    return out


def _run(*args: str) -> str:
    res = CliRunner().invoke(main, ["-q", *args], catch_exceptions=False)
    assert res.exit_code == 0, (args, res.output)
    return res.output


@pytest.fixture(params=["geopackage", "postgis"])
def ws(request: pytest.FixtureRequest, tmp_path: Path, simulated: Path) -> Path:
    """A workspace (GeoPackage, or a database of the PostGIS test server) after the first day's job: the site, its
    images imported and detected, and an ``alerts check``."""
    url = request.getfixturevalue("pg_url") if request.param == "postgis" else None
    root = init_workspace(tmp_path / "ws", url).root
    (root / "alerts.yaml").write_text(json.dumps(RULES), encoding="utf-8")
    w = ("-w", str(root))
    _run("sites", "import", str(simulated / "dunai" / "layout.geojson"), *w)
    _run("import", str(simulated / "dunai"), "--new-only", *w)
    _run("detect", *w)
    _run("alerts", "check", *w)
    return root


def _noted(root: Path) -> int:
    with open_workspace(root).store() as store:
        return int(store.execute("SELECT count(*) FROM input_changes")[0][0])


def _full(root: Path) -> tuple[bool, str]:
    with open_workspace(root).store() as store:
        rules, errors = load_rules(store, root / "alerts.yaml")
        assert not errors
        run = evaluate_window(store, rules)
        return run.full, run.why_full


RERUNS = {
    "import of the same folder": lambda sim: ["import", str(sim / "dunai")],
    "import --new-only of the same folder": lambda sim: ["import", str(sim / "dunai"), "--new-only"],
    "ingest of the same folder": lambda sim: ["ingest", "dunai", str(sim / "dunai")],
    "detect with nothing new": lambda sim: ["detect"],
    "detect --force with the same results": lambda sim: ["detect", "--force"],
    "sites import of the same file": lambda sim: ["sites", "import", str(sim / "dunai" / "layout.geojson")],
}


@pytest.mark.parametrize("what", list(RERUNS))
def test_a_command_run_again_with_nothing_new_notes_nothing(ws: Path, simulated: Path, what: str) -> None:
    assert _noted(ws) == 0 and _full(ws) == (False, ""), "the first check left notes or no window: the test proves nothing"
    _run(*RERUNS[what](simulated), "-w", str(ws))
    assert _noted(ws) == 0, what
    assert _full(ws) == (False, ""), what


def _detected(root: Path) -> list[tuple[object, ...]]:
    with open_workspace(root).store() as store:
        return [tuple(r) for r in store.execute("SELECT observation_id, detected_at FROM observations ORDER BY observation_id")]


def test_detect_force_with_the_same_results_keeps_when_they_were_made(ws: Path) -> None:
    """``detected_at`` is when the stored detections were made: a forced run that finds the same ones leaves it (and
    the rows) as they were, and says in ``runs`` that it ran."""
    before = _detected(ws)
    with open_workspace(ws).store() as store:
        runs = store.execute("SELECT count(*) FROM runs WHERE stage = 'detect'")[0][0]
        dets = [tuple(r) for r in store.execute("SELECT * FROM detections ORDER BY fid")]
    assert before and all(t is not None for _, t in before)
    _run("detect", "--force", "-w", str(ws))
    assert _detected(ws) == before
    with open_workspace(ws).store() as store:
        assert store.execute("SELECT count(*) FROM runs WHERE stage = 'detect'")[0][0] == runs + 1
        assert [tuple(r) for r in store.execute("SELECT * FROM detections ORDER BY fid")] == dets


def test_detect_with_other_results_is_noted(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun that finds other detections (here: a higher length limit, fewer vessels) is a change
    of what the rules read: noted, and the next check evaluates the whole history; ``detected_at`` is then now."""
    before = dict(_detected(ws))
    with open_workspace(ws).store() as store:
        lengths = [r[0] for r in store.execute("SELECT length_m FROM detections WHERE kind = 'vessel' ORDER BY length_m")]
    assert len(lengths) >= 2
    monkeypatch.setenv("SITEWATCH_MIN_VESSEL_LENGTH_M", str(lengths[-1] - 1))  # every vessel but the longest dropped
    _run("detect", "-w", str(ws))
    assert _noted(ws) > 0
    assert _full(ws)[0]
    after = dict(_detected(ws))
    assert any(after[o] != before[o] for o in before)


def _archive(root: Path) -> dict[str, tuple[int, int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_ctime_ns)
            for p in sorted((root / "archive").rglob("*")) if p.is_file()}  # fmt: skip


@pytest.mark.parametrize("what", ["import of the same folder", "ingest of the same folder"])
def test_an_image_cut_again_to_the_same_bytes_keeps_its_archived_file(tmp_path: Path, simulated: Path, what: str) -> None:
    """``import`` (without --new-only) and ``ingest`` cut each file again; a COG (or sidecar) that comes out byte for byte
    the one archived is not moved over it: the file keeps its inode and times, so the next ``detect`` finds it as it
    last checked it and reads none of the archive again (a changed status-change time made it hash every file), and a
    backup of the archive copies nothing."""
    root = init_workspace(tmp_path / "ws").root
    w = ("-w", str(root))
    _run("sites", "import", str(simulated / "dunai" / "layout.geojson"), *w)
    _run("import", str(simulated / "dunai"), *w)
    _run("detect", *w)
    before = _archive(root)
    assert len(before) >= 5
    _run(*RERUNS[what](simulated), *w)
    assert _archive(root) == before
    assert not list((root / "archive").rglob("*.partial*")) and len(list((root / "archive").rglob("*"))) == len(before) + 1

    from sitewatch import detection

    hashed: list[object] = []
    real = detection.sha256_file
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(detection, "sha256_file", lambda p: hashed.append(p) or real(p))
        _run("detect", *w)
    assert hashed == []
