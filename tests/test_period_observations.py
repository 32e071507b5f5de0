"""``observations --from/--to`` reads the period (a day either side), not every site's years of images; AIS matching
of a period reads that period's images and detections.

``observations`` read every observation of the site (or of every site) and counted every detection of the store,
then kept the period's rows; the pieces of a pass and the files of one acquisition that the listing names beside a
row are within seconds of it, so a day either side holds them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.cli.observations import _quiet_edges
from sitewatch.model import Observation
from sitewatch.store import Store
from sitewatch.workspace import init_workspace
from test_passes import SITE, piece, ship

DAYS = 200
FIRST = date(2024, 1, 1)


def _workspace(root: Path) -> Path:
    """Daily whole looks of "port" with a ship, a second site's too; on day 100 a pass in two slices, the first at
    23:59:50 of day 99 (before a period from day 100); on day 150 one acquisition held in two files."""
    from sitewatch.model import Site

    ws = init_workspace(root)
    store = ws.store()
    store.put_site(Site("port", "Port", "port", SITE))
    store.put_site(Site("other", "Other", "port", SITE))
    for k in range(DAYS):
        day = FIRST + timedelta(days=k)
        looks = [piece(f"whole-{day}", 131.9, 132.3, day=day)]
        if k == 100:
            edge = datetime.combine(day, datetime.min.time(), UTC)
            looks = [piece("s12", 131.9, 132.05, seconds=0), piece("s13", 132.05, 132.3, seconds=0)]
            looks = [_at(looks[0], edge - timedelta(seconds=10)), _at(looks[1], edge + timedelta(seconds=15))]
        if k == 150:
            looks.append(piece(f"again-{day}", 131.9, 132.3, day=day))
        for o in looks:
            store.put_observation(o)
            store.replace_detections(o, [ship(o, 0, 132.02)])
        other = piece(f"other-{day}", 131.9, 132.3, day=day)
        other = Observation(other.id.replace("port/", "other/"), "other", other.scene, other.grid, other.path, other.sha256,
                            other.valid_fraction, other.cloud_fraction)  # fmt: skip
        store.put_observation(other)
        store.replace_detections(other, [ship(other, 0, 132.02), ship(other, 1, 132.05)])
    store.close()
    return root


def _at(o: Observation, when: datetime) -> Observation:
    from dataclasses import replace

    return replace(o, scene=replace(o.scene, acquired=when))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _workspace(tmp_path_factory.mktemp("obs") / "ws")


def _listed(ws: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, int]:
    """The command's output and the observations it read."""
    read: list[int] = []
    real = Store.observations

    def counting(self: Store, *a: Any, **kw: Any) -> list[Observation]:
        out = real(self, *a, **kw)
        read.append(len(out))
        return out

    monkeypatch.setattr(Store, "observations", counting)
    res = CliRunner().invoke(main, ["observations", *args, "-w", str(ws)], env={"COLUMNS": "200"})
    monkeypatch.undo()
    assert res.exit_code == 0, res.output
    return res.output, sum(read)


@pytest.mark.parametrize("site", [["port"], []])
def test_a_period_s_observations_are_read_for_that_period_alone(ws: Path, monkeypatch: pytest.MonkeyPatch, site: list[str]) -> None:
    """A month of 200 days: 200 observations read for the site (400 for both), now the month and a day either side."""
    every = json.loads(_listed(ws, monkeypatch, *site, "--json")[0])
    for start, end in (("2024-04-10", "2024-05-09"), ("2024-05-20", "2024-06-05")):  # (days 100-129, 140-156)
        out, read = _listed(ws, monkeypatch, *site, "--json", "--from", start, "--to", end)
        assert json.loads(out) == [r for r in every if start <= r["acquired"][:10] <= end]
        days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
        assert read <= (days + 3) * (1 if site else 2)  # 200 (400) on the old code
    table, _ = _listed(ws, monkeypatch, *site, "--from", "2024-04-10", "--to", "2024-04-12")
    # The pass's first piece lies before the period (23:59:50 the day before), named with the second all the same.
    assert "one pass, judged together by the timeline: port/s12 + port/s13" in table
    assert "port/s12" not in table.split("one pass")[0]
    table, _ = _listed(ws, monkeypatch, *site, "--from", "2024-05-30", "--to", "2024-05-30")
    assert "held twice: port/again-2024-05-30 and port/whole-2024-05-30 are one acquisition" in table


def test_the_detection_counts_are_those_of_the_period_s_observations(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = _listed(ws, monkeypatch, "other", "--json", "--from", "2024-02-01", "--to", "2024-02-03")
    assert [r["detections"] for r in json.loads(out)] == [2, 2, 2]


def test_an_image_near_the_read_s_edge_may_be_a_piece_of_a_pass_going_on_past_it() -> None:
    """A site's image within pass_seconds of where the read begins or ends: the whole history is read instead."""
    since = datetime(2024, 4, 9, tzinfo=UTC)
    until = datetime(2024, 4, 20, tzinfo=UTC)
    near = _at(piece("a", 131.9, 132.3), since + timedelta(seconds=30))
    far = _at(piece("b", 131.9, 132.3), since + timedelta(hours=9))
    assert _quiet_edges([far], since, until, 60.0) and not _quiet_edges([near, far], since, until, 60.0)
    assert not _quiet_edges([far, _at(far, until - timedelta(seconds=59))], since, until, 60.0)
    assert _quiet_edges([near, far], None, until, 60.0)


def test_ais_of_a_period_reads_that_period_s_images_and_detections_alone(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ais --from/--to` (and `links`/`report --ais` of a period) read every image and detection of the sites, then
    kept the period's images: now it reads those of the period's UTC dates, with the same answer."""
    from sitewatch.analysis import ais
    from sitewatch.analysis.ais import ais_to_dict, match_workspace
    from sitewatch.workspace import open_workspace

    csv = ws.parent / "ais.csv"
    rows = [f"273000001,{FIRST + timedelta(days=k)}T09:30:00Z,42.05,{132.3 + 0.001 * (k % 3)}" for k in range(95, 110)]
    csv.write_text("mmsi,time,lat,lon\n" + "\n".join(rows) + "\n", encoding="utf-8")
    start, end = date(2024, 4, 8), date(2024, 4, 12)  # (days 98-102: the pass's first piece, on day 99, is kept)

    def matched() -> tuple[dict[str, Any], int]:
        read: list[int] = []
        real = Store.observations

        def counting(self: Store, *a: Any, **kw: Any) -> list[Observation]:
            out = real(self, *a, **kw)
            read.append(len(out))
            return out

        monkeypatch.setattr(Store, "observations", counting)
        with open_workspace(ws).store() as store:
            result = match_workspace(store, ws, ["port", "other"], [csv], start=start, end=end)
        monkeypatch.setattr(Store, "observations", real)
        return ais_to_dict(result), sum(read)

    doc, read = matched()
    assert [o["acquired"][:10] for o in doc["observations"] if o["site_id"] == "port"] == [
        "2024-04-08", "2024-04-09", "2024-04-09", "2024-04-10", "2024-04-11", "2024-04-12"]  # fmt: skip
    assert read <= 2 * 7  # 400 on the old code
    monkeypatch.setattr(ais, "period_times", lambda start, end: (None, None))  # every one read, as before
    assert matched() == (doc, 2 * DAYS + 2)


def test_the_site_api_of_a_period_counts_the_detections_of_that_period_alone(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`/api/sites/SITE?from=&to=` (and the site page) counted the detections of every image of the site, a row each
    from the store (years of them), to show a month's."""
    from sitewatch.analysis import TimelineParams
    from sitewatch.web.data import site_detail
    from sitewatch.workspace import open_workspace

    with open_workspace(ws).store() as store:
        every = site_detail(store, "port")["observations"]
        returned: list[int] = []
        real = Store.execute

        def counting(self: Store, sql: str, args: Any = ()) -> list[Any]:
            rows = real(self, sql, args)
            returned.append(len(rows))
            return rows

        monkeypatch.setattr(Store, "execute", counting)
        month = site_detail(store, "port", TimelineParams(start=date(2024, 4, 10), end=date(2024, 5, 9)))
    assert month["observations"] == [o for o in every if "2024-04-10" <= o["date"] <= "2024-05-09"]
    assert {o["detections"] for o in month["observations"]} == {1}
    assert sum(returned) <= 3 * 35  # 271 on the old code, 201 of them the counts: a row for each image of the site
