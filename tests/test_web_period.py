"""The dashboard's site page and its API over years of history: one period at a time.

The report world (17 and 20 Oct 2024, the ship at the berth on the 17th) with copies of its 17 Oct SAR look
placed earlier: on 16 Oct (the ship already there the usable date before the 17th), and 100 and 400 days
before the 17th, outside the page's default period of the last 90 days.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from _report_world import build
from sitewatch.analysis.occupancy import observation_date
from sitewatch.cli import main
from sitewatch.model import Change
from sitewatch.store.alerts import record_events
from sitewatch.store.changes import replace_changes
from sitewatch.web import create_app
from sitewatch.web.data import DEFAULT_PERIOD_DAYS
from sitewatch.workspace import Workspace

fastapi = pytest.importorskip("fastapi", reason="pip install 'sitewatch[web]'")
from fastapi.testclient import TestClient  # noqa: E402

SOURCE = "dunai:sim-dunai-2024-10-17-sar"
COPIES = {"dunai:sim-copy-16": 1, "dunai:sim-copy-100": 100, "dunai:sim-copy-400": 400}
"""Each copy of the 17 Oct SAR look, by the days before the 17th it was acquired."""
PAIRS = (("dunai:sim-copy-400", "dunai:sim-copy-100"), (SOURCE, "dunai:sim-dunai-2024-10-20-sar"))
"""The stored change pairs (before, after), each with an alert event on its after-image's date."""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = build(tmp_path_factory.mktemp("webperiod") / "ws")
    with w.store() as st:
        o = st.get_observation(SOURCE)
        dets = st.detections(observation_id=o.id)
        for oid, days in COPIES.items():
            when = o.scene.acquired - timedelta(days=days)
            scene = dataclasses.replace(o.scene, item_id=oid.split(":")[1], acquired=when)
            copy = dataclasses.replace(o, id=oid, scene=scene)
            st.put_observation(copy)
            st.replace_detections(copy, [dataclasses.replace(d, id=d.id.replace(o.id, oid), observation_id=oid) for d in dets])
        # Two stored pairs (400 -> 100 days back, 17 Oct -> 20 Oct) and an alert event on each after-image's date.
        for before, after in PAIRS:
            b, a = st.get_observation(before), st.get_observation(after)
            region = Change(f"{after}#c0", "dunai", before, after, dets[0].footprint, 50.0, 0.5,
                            "appeared", "test")  # fmt: skip
            replace_changes(st, b, a, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=[region])
            record_events(st, [{"event_id": f"arrival:{after}", "rule": "arrival", "kind": "arrival", "site": "dunai",
                                "date": observation_date(a).isoformat(), "acquired": a.scene.acquired.isoformat(),
                                "what": "a vessel arrived", "observations": [after], "images": [], "detections": [],
                                "simulated": True, "details": {}}], webhook=False)  # fmt: skip
    return w


@pytest.fixture(scope="module")
def client(ws: Workspace) -> TestClient:
    return TestClient(create_app(ws.root))


def _rows(page: str) -> list[str]:
    """The dates of the page's timeline table."""
    table = page.split("<h2>Timeline: presence, arrivals and departures</h2>")[1].split("</table>")[0]
    return re.findall(r"<tr(?: class=\"change\")?><td>(\d{4}-\d\d-\d\d)</td>", table)


def test_the_site_page_shows_the_last_days_by_default_and_reads_no_older_image(client: TestClient) -> None:
    """The site page showed every date (1.7 MB, 11 s at 1,800 days of daily images). By default it now shows the last
    DEFAULT_PERIOD_DAYS dates to the latest image, says so, and links to the period before; the images 100 and 400
    days back are on none of its tables, maps or links, but the month strip spans the whole archive."""
    page = client.get("/sites/dunai").text
    first = (datetime(2024, 10, 20) - timedelta(days=DEFAULT_PERIOD_DAYS - 1)).date()
    assert f"Dates shown: {first} to 2024-10-20</strong> (UTC; the last {DEFAULT_PERIOD_DAYS} days to the latest image" in page
    assert "images from 2023-09-13 to 2024-10-20" in page
    assert _rows(page) == ["2024-10-16", "2024-10-17", "2024-10-20"]
    assert "sim-copy-100" not in page and "sim-copy-400" not in page
    earlier = first - timedelta(days=DEFAULT_PERIOD_DAYS)
    assert f'href="/sites/dunai?from={earlier}&amp;to={first - timedelta(days=1)}"' in page
    months = re.findall(r'<a href="/sites/dunai\?from=(\d{4}-\d\d)-01&amp;to=', page)
    assert months[0] == "2023-09" and months[-1] == "2024-10" and len(months) == 14
    # The chart draws the same default period; the JSON links, whose default is every date, carry it.
    assert 'src="/sites/dunai/timeline.png"' in page
    assert [r["date"] for r in client.get("/api/sites/dunai/timeline" + f"?from={first}&to=2024-10-20").json()["rows"]] == _rows(page)
    assert f'href="/api/sites/dunai/timeline?from={first}&amp;to=2024-10-20"' in page


def test_a_period_asked_shows_those_dates_with_the_edges_of_the_timeline(client: TestClient, ws: Workspace) -> None:
    """?from=&to= (any form `timeline --from` reads) shows that period; its first date is judged against the usable
    date before it, as `timeline --from` judges it: the ship seen on the 16th is no arrival on the 17th."""
    page = client.get("/sites/dunai?from=20241017&to=2024-10-20").text
    assert "Dates shown: 2024-10-17 to 2024-10-20</strong>" in page and _rows(page) == ["2024-10-17", "2024-10-20"]
    assert 'src="/sites/dunai/timeline.png?from=2024-10-17&amp;to=2024-10-20"' in page  # the chart of the period asked
    assert "sim-copy-16" not in page
    api = client.get("/api/sites/dunai/timeline?from=2024-10-17&to=2024-10-20").json()
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--json", "-", "--from", "2024-10-17", "--to", "2024-10-20"])
    cli = json.loads(res.stdout)
    assert api["rows"] == cli["rows"] and api["periods"] == cli["periods"]
    assert [(r["date"], r["arrivals"], r["departures"]) for r in api["rows"]] == [("2024-10-17", 0, 0), ("2024-10-20", 0, 1)]
    old = client.get("/sites/dunai?from=2023-09-01&to=2023-09-30").text
    assert "sim-copy-400" in old and _rows(old) == ["2023-09-13"] and "sim-copy-100" not in old


def test_the_api_takes_the_period_and_answers_every_date_without_one(client: TestClient) -> None:
    """/api/sites/SITE, its timeline and detections take ?from=&to=; without them they answer every date, as before."""
    whole = client.get("/api/sites/dunai").json()
    assert "period" not in whole and len(whole["observations"]) == 7
    some = client.get("/api/sites/dunai?from=2024-10-01").json()
    assert some["period"] == {"from": "2024-10-01", "to": None}
    assert [o["id"] for o in some["observations"]] == [
        "dunai:sim-copy-16", "dunai:sim-dunai-2024-10-17-optical", SOURCE,
        "dunai:sim-dunai-2024-10-20-optical", "dunai:sim-dunai-2024-10-20-sar",
    ]  # fmt: skip
    assert some["detections"] == sum(o["detections"] for o in some["observations"]) == 4
    dets = client.get("/api/sites/dunai/detections?to=2024-01-01").json()["features"]
    assert {f["properties"]["observation_id"] for f in dets} == {"dunai:sim-copy-400"}
    assert len(client.get("/api/sites/dunai/detections").json()["features"]) == 6
    assert len(client.get("/api/sites/dunai/timeline").json()["rows"]) == 5


@pytest.mark.parametrize(("query", "says"), [
    ("from=2024/10/01", "refused from='2024/10/01': '2024/10/01' is not an ISO 8601 date or time"),
    ("to=2024-W40", "refused to='2024-W40': '2024-W40' is a week, not a day"),
    ("from=2024-10-17T09:30Z", "refused from='2024-10-17T09:30Z': a time; the timeline keeps whole dates"),
])  # fmt: skip
@pytest.mark.parametrize("path", ["/sites/dunai", "/sites/dunai/timeline.png", "/api/sites/dunai", "/api/sites/dunai/timeline",
                                  "/api/sites/dunai/detections", "/api/sites/dunai/changes", "/api/sites/dunai/alerts"])  # fmt: skip
def test_a_bad_date_is_a_400_naming_it(client: TestClient, path: str, query: str, says: str) -> None:
    r = client.get(f"{path}?{query}")
    assert r.status_code == 400, r.text
    assert says in (r.json()["detail"] if path.startswith("/api/") or path.endswith(".png") else r.text.replace("&#39;", "'"))


def test_to_before_from_is_refused_on_the_page_and_an_empty_period_in_the_api(client: TestClient) -> None:
    """A person is told (400 naming both); the API, whose doc cannot say that two valid dates are refused together
    (schemathesis: "schema-valid request rejected"), answers the period: no date lies in it."""
    for path in ("/sites/dunai", "/sites/dunai/timeline.png"):
        r = client.get(f"{path}?from=2024-10-20&to=2024-10-17")
        assert r.status_code == 400 and "refused to='2024-10-17': it is before from='2024-10-20'" in r.text.replace("&#39;", "'")
    site = client.get("/api/sites/dunai?from=2024-10-20&to=2024-10-17").json()
    assert site["observations"] == [] and site["detections"] == 0 and site["period"] == {"from": "2024-10-20", "to": "2024-10-17"}
    tl = client.get("/api/sites/dunai/timeline?from=2024-10-20&to=2024-10-17").json()
    assert tl["rows"] == [] and (tl["parameters"]["start"], tl["parameters"]["end"]) == ("2024-10-20", "2024-10-17")
    assert client.get("/api/sites/dunai/detections?from=2024-10-20&to=2024-10-17").json()["features"] == []
    assert client.get("/api/sites/atlantis/detections?from=2024-10-20&to=2024-10-17").status_code == 404


def test_the_changes_and_alerts_take_the_period_and_answer_every_one_without(client: TestClient) -> None:
    """/api/sites/SITE/changes and …/alerts took no period (every pair and event of years, whatever was asked): a pair
    is now of its after-image's date and an event of its date, as the site page shows them."""
    def changes(query: str = "") -> list[tuple[str, str]]:
        r = client.get(f"/api/sites/dunai/changes{query}")
        assert r.status_code == 200, r.text
        return [(p["before_id"], p["after_id"]) for p in r.json()]

    def alerts(query: str = "") -> list[str]:
        r = client.get(f"/api/sites/dunai/alerts{query}")
        assert r.status_code == 200, r.text
        return [e["observations"][0] for e in r.json()]

    assert changes() == list(PAIRS) and alerts() == [after for _, after in PAIRS]
    assert changes("?from=2024-10-01") == [PAIRS[1]] and alerts("?from=2024-10-01") == [PAIRS[1][1]]
    assert changes("?to=2024-07-09") == [PAIRS[0]] and alerts("?to=2024-07-09") == ["dunai:sim-copy-100"]
    assert changes("?from=20241020&to=2024-10-20") == [PAIRS[1]]  # any form `timeline --from` reads
    assert changes("?from=2024-10-21") == [] and alerts("?to=2024-07-08") == [] == changes("?to=2024-07-08")
    assert changes("?from=2024-10-20&to=2024-10-17") == [] and alerts("?from=2024-10-20&to=2024-10-17") == []
    for path in ("changes", "alerts"):
        assert client.get(f"/api/sites/atlantis/{path}?from=2024-10-20&to=2024-10-17").status_code == 404


def test_the_openapi_doc_declares_the_period(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/api/sites/{site_id}", "/api/sites/{site_id}/timeline", "/api/sites/{site_id}/detections",
                 "/api/sites/{site_id}/changes", "/api/sites/{site_id}/alerts"):
        names = {p["name"] for p in doc["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert names == {"from", "to"}, path
        assert "400" in doc["paths"][path]["get"]["responses"]


def test_the_page_reads_only_its_period(ws: Workspace, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Years of daily images: the page builds the observations of its period (and gap_days before it), not all."""
    from sitewatch.store.sqlite import Store

    built: list[str] = []
    make = Store._observation_from_row

    def counted(self: Store, row: object) -> object:
        o = make(self, row)
        built.append(o.id)
        return o

    monkeypatch.setattr(Store, "_observation_from_row", counted)
    assert client.get("/sites/dunai").status_code == 200
    # Not the image 400 days back; the one 100 days back lies within gap_days (45) before the period: it is read
    # (the period's first usable date is judged against the one before it) but shown nowhere (above).
    assert "dunai:sim-copy-400" not in built and "dunai:sim-copy-100" in built and SOURCE in built



@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory, ws: Workspace) -> Workspace:
    """A copy of ``ws`` with a stored pair between every two of dunai's observations in time order and from each to
    the latest (1 or 2 regions each), after which one after-image (``copy-100``) was ingested again a day later
    (10 July): its pairs' ``after_acquired`` is the time when compared, the observation's is now another."""
    import shutil

    root = tmp_path_factory.mktemp("webpairs") / "ws"
    shutil.copytree(ws.root, root)
    w = Workspace(root)
    with w.store() as st:
        obs = st.observations("dunai")
        dets = st.detections(site_id="dunai")
        steps = list(zip(obs, obs[1:], strict=False)) + [(o, obs[-1]) for o in obs[:-2]]
        for k, (b, a) in enumerate(steps):
            regions = [Change(f"{b.id}..{a.id}#c{n}", "dunai", b.id, a.id, dets[n].footprint, 50.0 + 10 * n + k, 0.5,
                              "appeared", "test") for n in range(1 + k % 2)]  # fmt: skip
            replace_changes(st, b, a, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=regions)
        moved = st.get_observation("dunai:sim-copy-100")
        later = dataclasses.replace(moved.scene, acquired=moved.scene.acquired + timedelta(days=1))
        st.put_scene(later)
        st.put_observation(dataclasses.replace(moved, scene=later))
    return w


DATES = [None, "2023-09-13", "2023-09-14", "2024-07-09", "2024-07-10", "2024-10-16", "2024-10-17", "2024-10-18",
         "2024-10-19", "2024-10-20", "2024-10-21"]  # fmt: skip


def _undated(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p | {"regions": [{k: v for k, v in g.items() if k not in ("last_seen_without", "first_seen")} for g in p["regions"]]} for p in pairs]


def test_the_changes_of_a_period_are_those_of_the_whole_history_kept_for_it(paired: Workspace) -> None:
    """/api/sites/SITE/changes?from=&to= read every pair of the site and kept those whose after-image is of the period;
    it now reads the period's alone: the same pairs, regions and order for every period (ends open, on an image's date,
    a day either side), the page's table too, judged by the after-image's time now (``copy-100`` moved)."""
    from sitewatch.web.data import pair_id

    client = TestClient(create_app(paired.root))
    whole = client.get("/api/sites/dunai/changes").json()
    with paired.store() as st:
        day = {o.id: observation_date(o) for o in st.observations("dunai")}
    assert len(whole) == 11 and day["dunai:sim-copy-100"].isoformat() == "2024-07-10"
    assert any(p["after_id"] == "dunai:sim-copy-100" and p["after_acquired"].startswith("2024-07-09") for p in whole)
    seen = set()
    for start in DATES:
        for end in DATES:
            query = "&".join(f"{k}={v}" for k, v in (("from", start), ("to", end)) if v)
            if not query:
                continue
            r = client.get(f"/api/sites/dunai/changes?{query}")
            assert r.status_code == 200, r.text
            want = [p for p in whole if p["after_id"] in day and (start is None or day[p["after_id"]].isoformat() >= start)
                    and (end is None or day[p["after_id"]].isoformat() <= end)]  # fmt: skip
            # Each region's dating is of the period's pairs, as the site page of the period dates them (a pair
            # outside it may narrow the whole history's): the rest is the whole history's.
            assert _undated(r.json()) == _undated(want), query
            assert all({"last_seen_without", "first_seen"} <= set(g) for p in r.json() for g in p["regions"])
            seen.add(len(want))
            if start and end and start <= end:  # the page's table of changes: each pair's link, in order
                page = client.get(f"/sites/dunai?{query}").text
                links = [unquote(x) for x in re.findall(r'href="/changes/([^"#]+)"', page)]
                assert list(dict.fromkeys(links)) == [pair_id(p["before_id"], p["after_id"]) for p in want], query
    assert len(seen) > 4  # periods of none, some and every pair


def test_the_changes_of_a_period_read_only_its_pairs(paired: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows of change_pairs and changes read for one period: the period's pairs and regions (their after-image
    within 2 days of it), not every one of the site's (11 pairs, 16 regions here; years of them on a daily site)."""
    from sitewatch.store.sqlite import Store

    read: list[str] = []
    execute = Store.execute

    def counted(self: Store, sql: str, args: object = ()) -> list[object]:
        rows = execute(self, sql, args)
        if "FROM change_pairs" in sql or "FROM changes" in sql:
            read.extend(("pair" if "FROM change_pairs" in sql else "region") for _ in rows)
        return rows

    monkeypatch.setattr(Store, "execute", counted)
    client = TestClient(create_app(paired.root))
    whole = client.get("/api/sites/dunai/changes").json()
    assert (read.count("pair"), read.count("region")) == (11, 16) == (len(whole), sum(len(p["regions"]) for p in whole))
    with paired.store() as st:
        day = {o.id: observation_date(o) for o in st.observations("dunai")}

    def near(start: str, end: str) -> list[dict[str, object]]:
        """The pairs whose after-image lies within 2 days of the period: what is read (a local date runs 14 h from UTC's)."""
        lo, hi = (date.fromisoformat(start) - timedelta(days=2)), (date.fromisoformat(end) + timedelta(days=2))
        return [p for p in whole if lo <= day[str(p["after_id"])] <= hi]

    for start, end in (("2024-07-10", "2024-07-10"), ("2024-10-20", "2024-10-20"), ("2024-10-16", "2024-10-16")):
        read.clear()
        got = client.get(f"/api/sites/dunai/changes?from={start}&to={end}").json()
        want = near(start, end)
        assert got and read.count("pair") == len(want) < len(whole), (start, end, read)
        assert read.count("region") == sum(len(p["regions"]) for p in want) < 16, (start, end)
        read.clear()
        assert client.get(f"/sites/dunai?from={start}&to={end}").status_code == 200
        assert read.count("pair") == len(want) and read.count("region") == sum(len(p["regions"]) for p in want), (start, end)
    read.clear()
    assert client.get("/api/sites/dunai/changes?from=2022-01-01&to=2022-12-31").json() == [] and read == []
