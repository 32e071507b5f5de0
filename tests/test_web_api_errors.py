"""The dashboard's answers to what it cannot show: a damaged store, hostile ids, and what its OpenAPI doc declares.

Found by property-based testing of the API with schemathesis (README, "Development"), each case kept
here as a plain request. On a tiny workspace of two sites and no imagery, made in a second.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sitewatch.cli import main
from sitewatch.web import create_app
from sitewatch.web.data import ID_PATTERNS, BadId, check_id

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A workspace with two sites, ``harbour`` and ``yard``, and nothing else."""
    root = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)]).exit_code == 0
    for site, bbox in (("harbour", "131.10,42.70,131.14,42.73"), ("yard", "131.20,42.70,131.22,42.72")):
        res = runner.invoke(main, ["sites", "add", site, "--bbox", bbox, "--kind", "port", "-w", str(root)])
        assert res.exit_code == 0, res.output
    return root


def _client(root: Path) -> TestClient:
    return TestClient(create_app(root), raise_server_exceptions=False)


def test_a_damaged_database_is_503_naming_it_not_a_bare_500(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store whose first pages read but whose later ones are damaged opens, then fails in the middle of a
    query with sqlite3.DatabaseError ("database disk image is malformed"): that answered 500 "Internal Server
    Error" as text/plain, where a store that could not be opened at all answers 503 naming it."""

    def damaged(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr("sitewatch.web.data.site_summaries", damaged)
    monkeypatch.setattr("sitewatch.web.data.site_detail", damaged)
    client = _client(root)
    for url in ("/api/sites", "/api/sites/harbour"):
        r = client.get(url)
        assert r.status_code == 503 and r.headers["content-type"] == "application/json", url
        detail = r.json()["detail"]
        assert "database disk image is malformed" in detail and "damaged" in detail and "try again" not in detail
    r = client.get("/")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "database disk image is malformed" in r.text


def test_a_locked_database_still_says_try_again(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("sitewatch.web.data.site_summaries", locked)
    r = _client(root).get("/api/sites")
    assert r.status_code == 503 and "database is locked" in r.json()["detail"] and "try again" in r.json()["detail"]


def _add_alert_event(root: Path, event: str) -> None:
    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db, db:
        db.execute(
            """INSERT INTO alert_events (event_key, rule_id, kind, site_id, event_date, acquired, summary, observation_ids,
               simulated, event, first_reported) VALUES ('k1', 'r1', 'arrival', 'harbour', '2024-10-17',
               '2024-10-17T00:40:00Z', 'what', '[]', 0, ?, '2024-10-18T00:00:00Z')""",
            (event,),
        )


@pytest.mark.parametrize("event", ["not json{", "[]", "null"])
def test_a_damaged_alert_event_is_503_naming_it_not_a_bare_500(root: Path, event: str) -> None:
    """An alert event whose stored JSON is not an object answered 500 "Internal Server Error" (text/plain)
    on the site's page and its /alerts."""
    _add_alert_event(root, event)
    client = _client(root)
    r = client.get("/api/sites/harbour/alerts")
    assert r.status_code == 503 and r.headers["content-type"] == "application/json"
    assert "alert event 'k1'" in r.json()["detail"] and "harbour" in r.json()["detail"]
    r = client.get("/sites/harbour")
    assert r.status_code == 503 and "alert event &#39;k1&#39;" in r.text
    assert client.get("/api/sites/yard/alerts").json() == []


def test_an_unexpected_error_is_500_in_the_shape_of_its_address_without_a_traceback(root: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Any other error answered Starlette's 500 "Internal Server Error" as text/plain: under /api/ the doc
    promises JSON, and a page would rather keep the dashboard's links."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr("sitewatch.web.data.site_summaries", broken)
    client = _client(root)
    r = client.get("/api/sites")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": "internal error (RuntimeError: something unforeseen); the server's log has the details"}
    r = client.get("/")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "something unforeseen" in r.text and '<a href="/">sites</a>' in r.text and "Traceback" not in r.text


def _operations(client: TestClient) -> dict[str, dict[str, Any]]:
    return {path: ops["get"] for path, ops in client.get("/openapi.json").json()["paths"].items()}


def test_the_openapi_doc_declares_the_errors_the_api_answers_and_no_422(root: Path) -> None:
    """The doc declared 200 and FastAPI's 422 "Validation Error", which no path string can cause, and none of
    the 400, 404 and 503 every route with an id answers; and application/json for the detections, served as
    application/geo+json."""
    client = _client(root)
    doc = client.get("/openapi.json").json()
    assert "422" not in str(doc) and "ValidationError" not in str(doc)
    for path, op in _operations(client).items():
        with_id, paged = "{" in path, path == "/api/sites"  # a page's limit and offset may be refused: 400
        assert set(op["responses"]) == ({"200", "400", "404", "500", "503"} if with_id else
                                        {"200", "400", "500", "503"} if paged else {"200", "500", "503"}), path  # fmt: skip
        for status in set(op["responses"]) - {"200"}:
            assert op["responses"][status]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        assert list(op["responses"]["503"]["headers"]) == ["Retry-After"]  # on a 503 that passes (the store restarting)
    assert doc["components"]["schemas"]["Error"]["required"] == ["detail"]
    detections = _operations(client)["/api/sites/{site_id}/detections"]["responses"]["200"]["content"]
    assert list(detections) == ["application/geo+json"]
    r = client.get("/api/sites/harbour/detections")
    assert r.headers["content-type"] == "application/geo+json" and r.json() == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize("value", ["nowhere", "%2E%2E", "a%01b", "%5C", pytest.param("x" * 3000, id="3000-chars"),
                                   "%F0%9F%9A%A2", "-1", "NaN", "1e309", "%2Fetc%2Fpasswd"])
def test_every_api_route_answers_a_declared_status_as_json(root: Path, value: str) -> None:
    client = _client(root)
    for path, op in _operations(client).items():
        url = path.replace("{site_id}", value).replace("{observation_id}", value).replace("{pair_id}", value)
        r = client.get(url)
        assert str(r.status_code) in op["responses"], (url, r.status_code)
        assert r.headers["content-type"] in op["responses"][str(r.status_code)]["content"], (url, r.headers["content-type"])


ID_TEXT = st.text(alphabet=st.sampled_from(["a", "Z", "é", "漢", "-", "/", ".", "~", "\\", "\x00", "\x1f", "\x7f", "\n", " "]))


@given(value=ID_TEXT)
def test_the_id_patterns_of_the_doc_are_the_ids_the_api_looks_up(value: str) -> None:
    """The doc gave every id as any string, though the API refuses some with 400: the pattern it now
    gives is check_id's rule, for a site's id (one part) and an observation's or a pair's (any number)."""
    for parts in (1, None):
        try:
            check_id(value, "test", parts=parts)
            accepted = True
        except BadId:
            accepted = False
        assert accepted == bool(re.fullmatch(ID_PATTERNS[parts], value)), (value, parts)


def test_the_doc_gives_each_id_parameter_its_pattern(root: Path) -> None:
    for path, op in _operations(_client(root)).items():
        for parameter in (p for p in op.get("parameters", []) if p["in"] == "path"):
            assert parameter["schema"]["pattern"] == ID_PATTERNS[1 if parameter["name"] == "site_id" else None], path


@pytest.mark.slow
def test_schemathesis_finds_nothing_on_a_tiny_workspace(root: Path) -> None:
    """Every API route, with ids generated from the doc's patterns (and its sites' own ids), positive and
    negative: no server error, every status, media type and body as the doc declares. A bounded run (a few
    seconds); README "Development" says how to run schemathesis at length against a served demo."""
    schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (in the dev extra)")
    from hypothesis import HealthCheck, settings
    from schemathesis.generation import GenerationMode

    _add_alert_event(root, '{"event_id": "k1", "rule": "r1", "kind": "arrival", "date": "2024-10-17", "what": "a ship"}')
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(root))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    for op in operations:
        known = {name: "harbour" for name in ("site_id",) if any(p.name == name for p in op.path_parameters)}
        cases = st.one_of(*(op.as_strategy(mode) for mode in GenerationMode), op.as_strategy(path_parameters=known))

        @given(case=cases)
        @settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            case.call_and_validate()

        call()


@pytest.mark.parametrize("url", ["/api/sites", "/api/sites/harbour", "/", "/sites/harbour"])
def test_a_method_not_allowed_says_which_are(root: Path, url: str) -> None:
    """The 405 to a POST or TRACE lost Starlette's Allow header (RFC 9110 requires it) in the app's own
    error answer."""
    client = _client(root)
    for method in ("POST", "TRACE", "DELETE"):
        r = client.request(method, url)
        assert r.status_code == 405 and r.headers.get("allow") == "GET, HEAD", (method, url)


def test_an_ais_file_gone_or_damaged_after_the_start_is_503_naming_it(root: Path, tmp_path: Path) -> None:
    """`serve --ais FILE` checks the file is there when it starts and reads it on each request for the links:
    one removed or overwritten since answered 500 (text/plain "Internal Server Error")."""
    ais = tmp_path / "ais.csv"
    ais.write_text("mmsi,time,lat,lon\n273000001,2024-10-17T00:00:00Z,42.71,131.12\n", encoding="utf-8")
    client = TestClient(create_app(root, ais_files=[ais]), raise_server_exceptions=False)
    assert client.get("/api/links").status_code == 200
    ais.write_text("not,an,ais,file\n", encoding="utf-8")
    r = client.get("/api/links")
    assert r.status_code == 503 and str(ais) in r.json()["detail"] and "not an AIS CSV" in r.json()["detail"]
    ais.unlink()
    r = client.get("/links")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html") and "cannot read the AIS file" in r.text


@pytest.mark.parametrize("url", ["/api/sites", "/api/sites/harbour", "/", "/sites/harbour", "/api/sites/nowhere"])
def test_head_answers_as_get_without_the_body(root: Path, url: str) -> None:
    """HEAD, which every general-purpose server must answer (RFC 9110; `curl -I`, link checkers), was 405."""
    client = _client(root)
    get, head = client.get(url), client.head(url)
    assert head.status_code == get.status_code and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert client.post(url).headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/api/observations", "no API endpoint at /api/observations: an observation's is /api/observations/{observation_id}"),
        ("/api/changes", "no API endpoint at /api/changes: a change pair's is /api/changes/{pair_id}"),
        ("/observations", "no page at /observations in this dashboard: an observation&#39;s page is /observations/ID"),
        ("/changes", "no page at /changes in this dashboard: a change pair&#39;s page is /changes/ID"),
        ("/sites", "no page at /sites in this dashboard: a site&#39;s page is /sites/ID"),
    ],
)
def test_an_address_without_its_id_is_404_at_once_naming_the_id(root: Path, url: str, says: str) -> None:
    """/api/observations answered 307 to /api/observations/, whose empty id then answered 400: two answers, the
    second naming an id '' nobody gave. No such path is in the OpenAPI doc: 404, saying what the address lacks."""
    client = _client(root)
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers
    assert says in (r.json()["detail"] if url.startswith("/api/") else r.text)
    assert client.head(url).status_code == 404 and client.post(url).headers["allow"] == "GET, HEAD"
    assert client.get(url + "/").status_code == 400  # an empty id, as the doc's pattern refuses it
