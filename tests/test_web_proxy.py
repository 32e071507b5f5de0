"""The dashboard put on a desk's network: under a reverse proxy's sub-path, behind an access token, with the
response headers a browser needs for pages made of untrusted files' text, and a health check for the proxy.

In-process with FastAPI's TestClient, on a two-day demo of Dunai with one site named as a hostile KML would name it.
"""

from __future__ import annotations

import re
import warnings
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from _a11y import elements
from sitewatch.cli import main
from sitewatch.demo import run_demo
from sitewatch.sources.simulate import load_scenario, shorten
from sitewatch.web import create_app
from sitewatch.web.access import COOKIE, read_token_file
from sitewatch.web.headers import SECURITY_HEADERS
from sitewatch.web.quicklook import QuicklookCache
from sitewatch.workspace import Workspace, open_workspace

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = "/sitewatch"
TOKEN = "s3cret-token-of-the-desk-0123456789"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    scen = shorten(load_scenario("seed-story"), days=3, start=date(2024, 10, 16), sites=["dunai"])
    out = tmp_path_factory.mktemp("proxy") / "ws"
    run_demo(out, scenario=scen, workers=1)
    w = open_workspace(out)
    with w.store() as st:  # a site name from a KML someone sent
        site = st.get_site("dunai")
        import dataclasses

        st.put_site(dataclasses.replace(site, name=HOSTILE))
    return w


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value is not None:
                self.found.append(value)


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return [u for u in parser.found if not u.startswith("#")]


def _crawl(client: TestClient, start: str, limit: int = 60) -> dict[str, int]:
    """Every address the pages link to from ``start`` (images, JSON, files, forms), followed as a browser would."""
    seen: dict[str, int] = {}
    todo = [start]
    while todo and len(seen) < limit:
        url = todo.pop(0)
        if url in seen:
            continue
        res = client.get(url, follow_redirects=False)
        seen[url] = res.status_code
        if res.headers.get("content-type", "").startswith("text/html"):
            todo += [u.replace("&amp;", "&") for u in _links(res.text) if u not in seen]
    return seen


@pytest.mark.parametrize("proxy_strips", [False, True], ids=["proxy-passes-path", "proxy-strips-prefix"])
def test_every_link_of_every_page_works_under_a_proxy_s_sub_path(ws: Workspace, proxy_strips: bool) -> None:
    """Behind nginx at https://desk.example/sitewatch/, every page linked to /sites/…, /api/…, /observations/…:
    the browser left the sub-path and the proxy answered 404 for each link, image and form."""
    client = TestClient(create_app(ws.root, cache=QuicklookCache(), root_path=ROOT))
    seen = _crawl(client, "/" if proxy_strips else f"{ROOT}/")
    assert len(seen) > 15
    outside = [u for u in seen if not u.startswith(f"{ROOT}/") and u != "/"]
    assert outside == [], outside
    # A proxy that strips the prefix hands the dashboard its own paths: the same links then arrive without it.
    answered = {u: (client.get(u.removeprefix(ROOT) or "/") if proxy_strips else None) for u in seen}
    failed = {u: s for u, s in seen.items() if s != 200 and (not proxy_strips or answered[u].status_code != 200)}  # type: ignore[union-attr]
    assert failed == {}, failed


def test_redirects_json_links_and_errors_keep_the_sub_path(ws: Workspace) -> None:
    client = TestClient(create_app(ws.root, cache=QuicklookCache(), root_path=ROOT))
    moved = client.get(f"{ROOT}/sites/dunai/", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == f"{ROOT}/sites/dunai"
    page = client.get(f"{ROOT}/api/sites?limit=1").json()
    assert page["links"][0]["href"] == f"{ROOT}/api/sites?limit=1"
    missing = client.get(f"{ROOT}/api/sites/nowhere")  # JSON, as without a prefix, not an HTML page
    assert missing.status_code == 404 and "nowhere" in missing.json()["detail"]
    assert client.get(f"{ROOT}/openapi.json").json()["servers"] == [{"url": ROOT}]


@pytest.mark.parametrize("given, kept", [("/sitewatch/", "/sitewatch"), ("sitewatch", "/sitewatch"), ("/", ""),
                                         ("/a/b", "/a/b")])  # fmt: skip
def test_root_path_is_written_one_way(ws: Workspace, given: str, kept: str) -> None:
    assert create_app(ws.root, root_path=given).state.dashboard.root == kept


@pytest.mark.parametrize("bad", ["https://desk.example/sitewatch", "/site watch", "/a/../b", "/x?y=1"])
def test_a_root_path_that_is_no_path_is_refused_naming_it(ws: Workspace, bad: str) -> None:
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--root-path", bad])
    assert res.exit_code == 1 and f"refused root path {bad!r}" in res.output


def test_pages_escape_untrusted_names_and_every_answer_forbids_scripts(ws: Workspace) -> None:
    """No Content-Security-Policy, no nosniff: a name a template ever left unescaped would run as a script, and a
    browser could sniff a served file as HTML."""
    client = TestClient(create_app(ws.root, cache=QuicklookCache()))
    for url in ["/", "/sites/dunai", "/links", "/api/sites", "/sites/dunai/timeline.png", "/nowhere", "/api/nowhere"]:
        res = client.get(url)
        if res.headers["content-type"].startswith("text/html"):  # JSON holds the name as it is, served as JSON
            assert HOSTILE not in res.text and "<script>" not in res.text, url
        for name, value in SECURITY_HEADERS.items():
            assert res.headers.get(name) == value, (url, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert client.head("/sites/dunai").headers["x-content-type-options"] == "nosniff"


def test_health_check_answers_200_then_503_naming_a_store_gone(ws: Workspace, tmp_path: Path) -> None:
    client = TestClient(create_app(ws.root, cache=QuicklookCache()))
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.json()["status"] == "ok" and isinstance(ok.json()["schema_version"], int)
    moved = tmp_path / "moved.gpkg"
    ws.db_path.rename(moved)
    try:
        down = client.get("/healthz")
    finally:
        moved.rename(ws.db_path)
    assert down.status_code == 503 and "is gone" in down.json()["detail"]
    assert client.get("/healthz").status_code == 200


def _guarded(ws: Workspace, root: str = "") -> TestClient:
    return TestClient(create_app(ws.root, cache=QuicklookCache(), token=TOKEN, root_path=root))


def test_a_token_guards_every_page_image_and_json_answer(ws: Workspace) -> None:
    client = _guarded(ws)
    for url in ["/", "/sites/dunai", "/sites/dunai/timeline.png", "/openapi.json", "/api/sites", "/nowhere"]:
        res = client.get(url)
        assert res.status_code == 401, url
        assert "naval" not in res.text and "alert(" not in res.text and str(ws.root) not in res.text, url  # nothing of it
    assert client.get("/api/sites").headers["www-authenticate"].startswith("Bearer")
    assert "<form" in client.get("/sites/dunai").text  # a browser is shown the sign-in form
    assert client.get("/healthz").status_code == 200  # the proxy's monitor needs no token
    wrong = client.get("/api/sites", headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})
    assert wrong.status_code == 401
    right = client.get("/api/sites", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and right.json()["sites"][0]["id"] == "dunai"
    # What a reader with the token gets is no shared cache's to keep for others (an image has a Last-Modified).
    assert right.headers["cache-control"] == "private"
    chart = client.get("/sites/dunai/timeline.png", headers={"Authorization": f"Bearer {TOKEN}"})
    assert chart.status_code == 200 and chart.headers["cache-control"] == "private, no-cache"
    assert "private" not in TestClient(create_app(ws.root)).get("/api/sites").headers.get("cache-control", "")


def test_a_browser_signs_in_once_on_the_form_and_the_token_never_shows_in_an_address(ws: Workspace) -> None:
    client = _guarded(ws, ROOT)
    form = client.get(f"{ROOT}/sites/dunai?from=2024-10-16")
    assert form.status_code == 401
    action = re.search(r'action="([^"]+)"', form.text)
    nxt = re.search(r'name="next" value="([^"]+)"', form.text)
    assert action and nxt and action.group(1) == f"{ROOT}/login"
    wrong = client.post(action.group(1), data={"token": "guess", "next": nxt.group(1)}, follow_redirects=False)
    assert wrong.status_code == 401 and COOKIE not in wrong.headers.get("set-cookie", "")
    # The field the error is about says so to a screen reader, which lands on it (autofocus) past the message.
    field = next(e for e in elements(wrong.text) if e.tag == "input" and e.attrs.get("name") == "token")
    assert field.attrs.get("aria-invalid") == "true" and field.attrs.get("aria-describedby")
    error = next(e for e in elements(wrong.text) if e.attrs.get("id") == field.attrs["aria-describedby"])
    assert "not this dashboard's token" in error.inner_text()
    assert "aria-invalid" not in form.text
    res = client.post(action.group(1), data={"token": TOKEN, "next": nxt.group(1)}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == f"{ROOT}/sites/dunai?from=2024-10-16"
    cookie = res.headers["set-cookie"]
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and f"Path={ROOT}" in cookie
    assert "Secure" not in cookie  # plain HTTP here; by HTTPS (the proxy's X-Forwarded-Proto) it is Secure
    assert client.get(f"{ROOT}/sites/dunai").status_code == 200  # the cookie, kept by the client
    assert client.get(f"{ROOT}/sites/dunai/timeline.png").status_code == 200
    secure = TestClient(create_app(ws.root, token=TOKEN), base_url="https://desk.example")
    assert "Secure" in secure.post("/login", data={"token": TOKEN}, follow_redirects=False).headers["set-cookie"]


@pytest.mark.parametrize("nxt", ["//evil.example/", "https://evil.example/", "/elsewhere", "/sitewatch\\..\\x"])
def test_signing_in_never_sends_the_browser_elsewhere(ws: Workspace, nxt: str) -> None:
    res = _guarded(ws, ROOT).post(f"{ROOT}/login", data={"token": TOKEN, "next": nxt}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == f"{ROOT}/"


@pytest.mark.parametrize("text, said", [("", "holds no token"), ("short\n", "a token of 5 characters"),
                                        ("two words here ok\n", "spaces or control characters")])  # fmt: skip
def test_a_token_file_without_a_usable_token_is_refused_naming_it(tmp_path: Path, text: str, said: str) -> None:
    f = tmp_path / "token"
    f.write_text(text)
    with pytest.raises(ValueError, match=said):
        read_token_file(f)


def test_serve_reads_the_token_from_a_file_and_says_the_sub_path(ws: Workspace, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    apps: list[Any] = []

    def serve_app(app: Any, host: str, port: int, log_level: str, on_listening: Any) -> None:
        apps.append(app)
        on_listening()

    monkeypatch.setattr("sitewatch.web.serve_app", serve_app)
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o644)
    loose = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--token-file", str(f)])
    assert loose.exit_code == 0 and f"can be read by other users of this machine: `chmod 600 {f}`" in loose.output
    f.chmod(0o600)
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--host", "0.0.0.0", "--token-file", str(f),
                                    "--root-path", "/sitewatch/"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "anyone who can reach" not in res.output and "behind a proxy at /sitewatch/" in res.output
    assert "other users" not in res.output
    client = TestClient(apps[-1])
    assert client.get("/sitewatch/api/sites").status_code == 401
    assert client.get("/sitewatch/api/sites", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    missing = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--token-file", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "cannot read the token file" in missing.output


def _served(ws: Workspace, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    apps: list[Any] = []
    monkeypatch.setattr("sitewatch.web.serve_app", lambda app, *a, **k: apps.append(app))
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), *args])
    assert res.exit_code == 0, res.output
    return apps[0]


def test_a_dashboard_on_localhost_answers_only_this_machine_s_names(ws: Workspace, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A web page whose name its DNS points to 127.0.0.1 (DNS rebinding) was answered as the reporter's own browser
    tab: same origin, so its script could read the whole workspace from `sitewatch serve` on a laptop."""
    app = _served(ws, monkeypatch)
    for base in ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"]:
        assert TestClient(app, base_url=base).get("/api/sites").status_code == 200, base
    rebound = TestClient(app, base_url="http://attacker.example:8000").get("/api/sites")
    assert rebound.status_code == 400 and "attacker.example" in rebound.json()["detail"]
    assert "--allowed-host" in rebound.json()["detail"]
    proxied = _served(ws, monkeypatch, "--allowed-host", "desk.example")
    assert TestClient(proxied, base_url="https://desk.example").get("/api/sites").status_code == 200
    assert TestClient(proxied, base_url="https://other.example").get("/api/sites").status_code == 400
    # On the network, behind a token: the names are the network's.
    f = tmp_path / "token"
    f.write_text(TOKEN)
    f.chmod(0o600)
    for args in (["--host", "0.0.0.0"], ["--token-file", str(f)]):
        other = TestClient(_served(ws, monkeypatch, *args), base_url="https://desk.example")
        assert other.get("/healthz").status_code == 200, args
    # A proxy's sub-path says where the links start, not which names to answer: it turned the check off.
    sub = _served(ws, monkeypatch, "--root-path", ROOT)
    assert TestClient(sub, base_url="http://attacker.example:8000").get(f"{ROOT}/api/sites").status_code == 400
    assert TestClient(sub, base_url="http://127.0.0.1:8000").get(f"{ROOT}/api/sites").status_code == 200  # nginx's Host
    named = _served(ws, monkeypatch, "--root-path", ROOT, "--allowed-host", "desk.example")
    assert TestClient(named, base_url="https://desk.example").get(f"{ROOT}/api/sites").status_code == 200  # Caddy's


def test_the_readme_s_service_behind_its_nginx_block_answers_the_desk_s_name(ws: Workspace, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """README's service and nginx block, with the token or with the proxy's own login instead (the token left out):
    nginx there passes the reader's `Host` (desk.example), which `--root-path` no longer lets past the localhost check,
    so that set-up answered every page 400 until the service named it with `--allowed-host`."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    unit = re.search(r"^Environment=(.*)\nExecStart=\S+ -q serve -w \S+ (.*)$", readme, re.M)
    assert unit is not None and "proxy_set_header Host $host;" in readme  # the reader's Host, https://desk.example
    env = dict(kv.split("=", 1) for kv in unit.group(1).split())
    root = env["SITEWATCH_ROOT_PATH"]
    monkeypatch.setenv("SITEWATCH_ROOT_PATH", root)
    f = tmp_path / "token"
    f.write_text(TOKEN)
    f.chmod(0o600)
    for token in ([], ["--token-file", str(f)]):
        app = _served(ws, monkeypatch, *unit.group(2).split(), *token)
        answer = TestClient(app, base_url="https://desk.example").get(f"{root}/api/sites", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200, (token, answer.text)


def test_a_sign_in_form_with_more_fields_than_its_own_is_refused_not_a_crash(ws: Workspace) -> None:
    """parse_qs's field limit raised ValueError out of the middleware: a 500 for a stray '&&&&&' in a POST."""
    client = TestClient(create_app(ws.root, token=TOKEN), raise_server_exceptions=False)
    for body in ["&&&&&&&&", f"token={TOKEN}&next=/&a=1&b=2&c=3"]:
        res = client.post("/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"},
                          follow_redirects=False)  # fmt: skip
        assert res.status_code == 400 and "token and next" in res.json()["detail"], body
        assert COOKIE not in res.headers.get("set-cookie", "")
    assert client.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False).status_code == 303


def test_a_malformed_host_is_not_read_as_this_machine_s_name(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name in brackets was taken whatever followed them: `[::1]evil.example` passed as ::1."""
    client = TestClient(_served(ws, monkeypatch))
    for host in ["[::1]evil.example", "[::1]:80]", "[localhost]", "localhost:evil", "[127.0.0.1]"]:
        assert client.get("/api/sites", headers={"host": host}).status_code == 400, host
    for host in ["[::1]", "[::1]:8000", "LOCALHOST:8000", "127.0.0.1:", "::1"]:
        assert client.get("/api/sites", headers={"host": host}).status_code == 200, host


def test_another_application_s_cookie_on_the_same_host_does_not_sign_the_reader_out(ws: Workspace) -> None:
    """The stdlib's SimpleCookie gave up at a cookie it found malformed (a JSON value, a space in it) and the one a
    wider path set under our name hid ours: a signed-in reader got the sign-in form again, signing in for ever."""
    client = TestClient(create_app(ws.root, token=TOKEN))
    session = client.post("/login", data={"token": TOKEN}, follow_redirects=False).cookies[COOKIE]
    for header in [f'prefs={{"theme":"dark"}}; {COOKIE}={session}', f"flash=signed in; {COOKIE}={session}",
                   f'x="open; {COOKIE}={session}', f"{COOKIE}={session}; {COOKIE}=other-app-s"]:  # fmt: skip
        fresh = TestClient(create_app(ws.root, token=TOKEN))
        assert fresh.get("/api/sites", headers={"cookie": header}).status_code == 200, header
    assert fresh.get("/api/sites", headers={"cookie": f"{COOKIE}={session[:-1]}{'1' if session.endswith('0') else '0'}; a=b"}).status_code == 401
    assert fresh.get("/api/sites", headers={"cookie": f"{COOKIE}x={session}"}).status_code == 401
    renewed = TestClient(create_app(ws.root, token=TOKEN + "-renewed"))  # a new token: the old cookie is void
    assert renewed.get("/api/sites", headers={"cookie": f"{COOKIE}={session}"}).status_code == 401


def test_a_guarded_dashboard_s_health_check_says_where_its_store_is_only_to_the_token(ws: Workspace,
                                                                                      tmp_path: Path) -> None:  # fmt: skip
    """/healthz answers without the token; its 503 named the store's file (or PostGIS server and user) to anyone."""
    client = TestClient(create_app(ws.root, cache=QuicklookCache(), token=TOKEN, root_path=ROOT))
    moved = tmp_path / "moved.gpkg"
    ws.db_path.rename(moved)
    try:
        anyone = client.get(f"{ROOT}/healthz")
        signed = client.get(f"{ROOT}/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        moved.rename(ws.db_path)
    assert anyone.status_code == 503 and "cannot be read" in anyone.json()["detail"]
    assert str(ws.root) not in anyone.text and "gone" not in anyone.text
    assert signed.status_code == 503 and str(ws.db_path) in signed.json()["detail"] and "is gone" in signed.text


def test_the_api_doc_of_a_guarded_dashboard_declares_its_bearer_token(ws: Workspace) -> None:
    """The OpenAPI doc said nothing of the token: a client made from it sent none and met an undeclared 401."""
    doc = _guarded(ws).get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    scheme = doc["components"]["securitySchemes"]["token"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and "--token-file" in scheme["description"]
    assert doc["security"] == [{"token": []}]
    assert all("401" in op["responses"] for path, ops in doc["paths"].items() if path.startswith("/api/")
               for op in ops.values())  # fmt: skip
    assert TOKEN not in str(doc)
    open_doc = TestClient(create_app(ws.root)).get("/openapi.json").json()
    assert "security" not in open_doc and "securitySchemes" not in open_doc["components"]


def test_an_unforeseen_error_s_answer_carries_the_security_headers_too(ws: Workspace,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The 500 of an unforeseen error is sent by Starlette's outermost layer, round the middleware the app added:
    it went out without the Content-Security-Policy or nosniff, on a page quoting the error's message."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(HOSTILE)

    monkeypatch.setattr("sitewatch.web.data.site_summaries", broken)
    client = TestClient(create_app(ws.root, cache=QuicklookCache(), root_path=ROOT), raise_server_exceptions=False)
    for url in [f"{ROOT}/api/sites", f"{ROOT}/"]:
        res = client.get(url)
        assert res.status_code == 500 and "RuntimeError" in res.text, url
        for name, value in SECURITY_HEADERS.items():
            assert res.headers.get(name) == value, (url, name)
