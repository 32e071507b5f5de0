"""Changes dated by every stored pair: last seen without, first seen with (change_dating.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box

from sitewatch.change_dating import DatedChange, date_changes, dated_text
from sitewatch.cli import main
from sitewatch.model import Change
from sitewatch.store.changes import ChangePair
from test_change_stage import workspace  # noqa: F401  (the fixture)


def _t(day: str, hour: int = 1) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _pair(b: str, a: str, res: str = "10", compared: float = 1.0, hour: int = 1) -> ChangePair:
    return ChangePair("base", f"base/{res}-{b}", f"base/{res}-{a}", _t(b, hour), _t(a, hour), "optical", compared, "irmad-cva", "5")


def _region(p: ChangePair, n: int, area: float, where: object = None, direction: str = "appeared") -> Change:
    return Change(f"{p.before_id}..{p.after_id}#{n}", "base", p.before_id, p.after_id, where or box(0, 0, 1e-3, 1e-3),
                  area, 9.0, direction, "irmad-cva", "5")  # type: ignore[arg-type]  # fmt: skip


def test_two_series_seeing_one_trench_date_it_between_the_latest_without_and_the_earliest_with() -> None:
    # The demo's trenches, dug 3 October: the 10 m pair 30 Sep -> 5 Oct and the 3 m pair 1 -> 8 Oct both hold them.
    coarse = [_pair("2024-09-25", "2024-09-30"), _pair("2024-09-30", "2024-10-05"), _pair("2024-10-05", "2024-10-10")]
    fine = [_pair("2024-10-01", "2024-10-08", "3", hour=0), _pair("2024-10-08", "2024-10-17", "3", hour=0)]
    regions = [_region(coarse[1], 1, 18500.0), _region(fine[0], 1, 9522.0, direction="altered")]
    (d,) = date_changes([*coarse, *fine], regions)
    assert (d.seen_without, d.seen_with) == (_t("2024-10-01", 0), _t("2024-10-05"))
    assert d.last_without is fine[0] and d.first_with is coarse[1]
    assert d.directions == ("appeared", "altered") and d.regions[0].area_m2 == 18500.0 and d.hidden_between == ()


def test_regions_of_other_places_or_of_spans_that_do_not_overlap_are_other_changes() -> None:
    # Trenches, then vehicles parked on them weeks later: one ground, two changes; and a roof elsewhere the same week.
    pairs = [_pair("2024-09-30", "2024-10-05"), _pair("2024-10-15", "2024-10-20"), _pair("2024-10-01", "2024-10-08", "3", hour=0)]
    trench, vehicles = _region(pairs[0], 1, 18500.0), _region(pairs[1], 1, 3700.0, direction="disappeared")
    roof = _region(pairs[2], 1, 900.0, box(0.01, 0.01, 0.011, 0.011))
    dated = date_changes(pairs, [trench, vehicles, roof])
    assert [d.regions for d in dated] == [(trench,), (roof,), (vehicles,)]  # in the order first seen
    assert [d.seen_with.date().isoformat() for d in dated] == ["2024-10-05", "2024-10-08", "2024-10-20"]


def test_an_image_between_the_ends_that_compared_little_of_the_site_is_named() -> None:
    # 10 October half under cloud: a change first seen on the 15th may have been there on the 10th, unseen.
    # The 15th compares little only beside the 10th: its pair with the 20th compared the whole site.
    pairs = [_pair("2024-10-05", "2024-10-10", compared=0.31), _pair("2024-10-10", "2024-10-15", compared=0.31),
             _pair("2024-10-15", "2024-10-20"), _pair("2024-10-01", "2024-10-08", "3", hour=0),
             _pair("2024-10-08", "2024-10-17", "3", hour=0)]  # fmt: skip
    region = _region(pairs[4], 1, 5000.0)
    (d,) = date_changes(pairs, [region])
    assert (d.seen_without, d.seen_with) == (_t("2024-10-08", 0), _t("2024-10-17", 0))
    assert d.hidden_between == (("base/10-2024-10-10", _t("2024-10-10"), 0.31),)
    assert dated_text(d, {}).endswith(
        "first seen 2024-10-17 00:00 UTC, 9.0 days apart; between them 2024-10-10 01:00 UTC compared 31% of the site "
        "(cloud or no data): it may have been there unseen"
    )


def test_a_dated_change_checks_itself() -> None:
    p = _pair("2024-10-01", "2024-10-05")
    with pytest.raises(ValueError, match="at least one region"):
        DatedChange("base", (), p, p)
    later = _pair("2024-10-06", "2024-10-09")
    with pytest.raises(ValueError, match="is after first seen"):
        DatedChange("base", (_region(p, 1, 500.0),), later, p)
    # An image known by its date alone (stored at 12:00) may be the earlier of a pair with a 09:30 image of its day.
    same_day = ChangePair("base", "base/a", "base/b", _t("2024-10-09", 12), _t("2024-10-09", 9), "optical", 1.0, "irmad-cva", "5")
    (d,) = date_changes([same_day], [_region(same_day, 1, 500.0)])
    assert d.seen_with == _t("2024-10-09", 9)


def test_change_prints_and_json_gives_each_change_dated(workspace: tuple[Path, Point]) -> None:  # noqa: F811
    root, _ = workspace
    res = CliRunner().invoke(main, ["change", "base", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert "base: 1 change on the ground, dated by every stored pair" in res.output  # was "1 change(s)", where -q said "1 change"
    assert "last seen without 2024-10-01, time unknown (10 m optical), first seen 2024-10-05, time unknown (10 m optical), 4 days apart" in res.output
    doc = json.loads(CliRunner().invoke(main, ["change", "base", "--json", "-w", str(root)]).stdout)
    (dated,) = doc["dated"]
    assert dated["last_seen_without"]["observation"].endswith("20241001") and dated["first_seen"]["acquired_date_only"] is True
    assert dated["first_seen"]["observation"].endswith("20241005") and dated["directions"] == ["appeared"]
    assert len(dated["change_ids"]) == 1 and dated["hidden_between"] == []


def test_the_report_dates_the_changes_in_its_findings_and_changes_section(workspace: tuple[Path, Point], tmp_path: Path) -> None:  # noqa: F811
    root, _ = workspace
    runner = CliRunner()
    assert runner.invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    out = tmp_path / "report.html"
    assert runner.invoke(main, ["report", "base", "--out", str(out), "-w", str(root)]).exit_code == 0
    html = out.read_text(encoding="utf-8")
    findings = html.split('id="findings"', 1)[1].split("<h2", 1)[0]
    dated = ("last seen without 2024-10-01, time unknown (10 m optical), first seen 2024-10-05, time unknown (10 m optical), "
             "4 days apart")  # fmt: skip
    assert "The first change on the ground: appeared, " in findings and dated in findings
    section = html.split("<h3>Changes</h3>", 1)[1]
    assert '<ol class="dated"><li>appeared, ' in section and dated in section.split("</ol>", 1)[0]


def test_the_dashboards_site_page_dates_the_changes(workspace: tuple[Path, Point]) -> None:  # noqa: F811
    from starlette.testclient import TestClient

    from sitewatch.web.app import create_app

    root, _ = workspace
    assert CliRunner().invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    page = TestClient(create_app(root)).get("/sites/base?from=2024-09-01&to=2024-10-31")
    assert page.status_code == 200
    section = page.text.split('id="changes"', 1)[1].split("</ol>", 1)[0]
    assert '<ol class="dated"><li>appeared, ' in section
    assert "last seen without 2024-10-01, time unknown (10 m optical), first seen 2024-10-05, time unknown (10 m optical)" in section


def test_an_image_cloudy_in_both_its_pairs_is_a_gap_named_with_the_pair_to_compare() -> None:
    from sitewatch.change_dating import cloud_gaps, gap_note

    # 10 October half under cloud: 5 -> 10 and 10 -> 15 each compared 31 %; a change under that cloud is in neither.
    chain = [_pair("2024-10-05", "2024-10-10", compared=0.31), _pair("2024-10-10", "2024-10-15", compared=0.31),
             _pair("2024-10-15", "2024-10-20")]  # fmt: skip
    assert cloud_gaps(chain) == [(chain[0], chain[1])]
    note = gap_note(chain[0], chain[1], {})
    assert note.startswith("2024-10-10 01:00 UTC compared only 31% and 31% of the site in its two pairs")
    assert note.endswith("`sitewatch change base --before base/10-2024-10-05 --after base/10-2024-10-15`")
    # Compared directly, the gap is closed; one pair that compared most of the site is no gap either.
    assert cloud_gaps([*chain, _pair("2024-10-05", "2024-10-15")]) == []
    assert cloud_gaps([chain[0], _pair("2024-10-10", "2024-10-15", compared=0.8)]) == []
