"""How the report's and the dashboard's pages lay out for a reader: on paper, on a phone, and the
links from a figure to its image. Read from the HTML and its style sheet (no screenshots)."""

from __future__ import annotations

import html as html_text
import re
import warnings
from pathlib import Path

import pytest

from _report_world import build
from sitewatch.model import Site
from sitewatch.report.html import write_report
from sitewatch.workspace import Workspace


def _style(html: str) -> str:
    m = re.search(r"<style>(.*?)</style>", html, re.S)
    assert m, "the page has its style sheet inline"
    return re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)


def _media(css: str, query: str) -> str:
    """The body of the ``@media QUERY { ... }`` block (braces balanced); empty when there is none."""
    start = css.find(f"@media {query}")
    if start < 0:
        return ""
    i = css.index("{", start) + 1
    depth = 1
    for j in range(i, len(css)):
        depth += {"{": 1, "}": -1}.get(css[j], 0)
        if depth == 0:
            return css[i:j]
    raise AssertionError(f"unbalanced @media {query}")


def _rules(css: str) -> dict[str, dict[str, str]]:
    """Top-level rules of ``css`` (no @media blocks): selector -> {property: value}, later rules winning."""
    out: dict[str, dict[str, str]] = {}
    for sel, body in re.findall(r"([^{}@]+)\{([^{}]*)\}", re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css)):
        decls = dict(
            (k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)
        )
        for s in sel.split(","):
            out.setdefault(s.strip(), {}).update(decls)
    return out


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build(tmp_path_factory.mktemp("layout") / "ws")


@pytest.fixture(scope="module")
def html(ws: Workspace) -> str:
    return write_report(ws, None, ws.root / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def client(ws: Workspace):  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from sitewatch.web import create_app

    return TestClient(create_app(ws))


def _observation_path(client) -> str:  # type: ignore[no-untyped-def]
    oid = client.get("/api/sites/dunai").json()["observations"][0]["id"]
    return f"/observations/{oid}"


def test_report_prints_its_scrolled_tables_whole(html: str) -> None:
    # The timeline and detections tables scroll on screen (34em); printed, a scroll box showed its
    # first rows only and the PDF lost the rest (47 of Dunai's 61 dates in the demo).
    assert '<div class="scroll"' in html
    assert "max-height" in _rules(_style(html))[".scroll"]
    printed = _rules(_media(_style(html), "print"))
    assert printed[".scroll"] == {"max-height": "none", "overflow": "visible"}
    assert printed["td.ids"]["white-space"] == "normal"  # the ids column no longer runs off the page
    # nor does the detections' 13th column (the detector), behind a one-line time
    assert printed["td.date"]["white-space"] == "normal" and printed["table"]["font-size"] == "0.72em"


def test_dashboard_prints_its_scrolled_tables_whole(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/sites/dunai", _observation_path(client)):
        page = client.get(path).text
        assert '<div class="scroll"' in page
        assert _rules(_media(_style(page), "print"))[".scroll"] == {"max-height": "none", "overflow": "visible"}


CLAIMS = """\
title: "A ship at the pier"
claims:
  - id: ship-at-pier
    text: A ship was at the pier on 17 October 2024.
    source: {who: a test, when: 2024}
    sites: [dunai]
    assert:
      - {kind: vessel_present, date: 2024-10-17, berth: [pier-1]}
"""


@pytest.fixture(scope="module")
def claims_html(ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> str:
    claims = tmp_path_factory.mktemp("claims") / "claims.yaml"
    claims.write_text(CLAIMS, encoding="utf-8")
    return write_report(ws, None, ws.root / "claims-report.html", claims_files=[claims]).read_text(encoding="utf-8")


def test_simulated_label_inside_a_table_cell_is_an_inline_tag(claims_html: str) -> None:
    # `.sim` is the banner (a block with margins and padding): inside a cell's line it covered the
    # time above and the length below it. Within a line the label is a `.tag`, with no vertical padding.
    cell = claims_html.split('<h2 id="claims">', 1)[1].split("</table>", 1)[0]
    assert "dunai:sim-dunai-2024-10-17" in cell and '<span class="tag">SIMULATED</span>' in cell
    assert not re.search(r'<(?!p |p>|div )\w+ class="sim"', claims_html), "the banner only as a block"
    tag = _rules(_style(claims_html))[".tag"]
    assert "margin" not in tag and tag["padding"].split()[0] == "0"


@pytest.mark.parametrize("where", ["workspace", "subfolder", "elsewhere"])
def test_every_link_to_an_image_resolves_from_where_the_report_is_written(
    ws: Workspace, tmp_path: Path, where: str
) -> None:
    # `sitewatch report -w WS --out report.html` writes into the current folder: links written
    # relative to the workspace ("archive/...") led nowhere from there.
    from urllib.parse import unquote

    out = {"workspace": ws.root, "subfolder": ws.root / "out", "elsewhere": tmp_path}[where] / "r.html"
    out.parent.mkdir(exist_ok=True)
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIMS, encoding="utf-8")
    page = write_report(ws, None, out, claims_files=[claims]).read_text(encoding="utf-8")
    hrefs = [h for h in re.findall(r'href="([^"]+)"', page) if not h.startswith("#")]
    with ws.store() as st:
        archived = {(ws.root / o.path).resolve() for o in st.observations()}
    assert len(hrefs) >= 5  # the chips' captions, the close-ups' and the claim's images
    for h in hrefs:
        assert (out.parent / unquote(h)).resolve() in archived, h
    # Each chip's caption links its image; the map's and the timeline chart's, drawn from many images, say where
    # the links to those are.
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)
    drawn_from_many = ("The site, its berths and every detection", "Vessels per usable date")
    assert captions and all('image <a href="' in c for c in captions if not c.startswith(drawn_from_many))
    assert all("linked to its image" in c or "a link to its image" in c for c in captions if c.startswith(drawn_from_many))


_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _visible_text(page: str) -> str:
    """A page's text as read, without the ids, hashes and parameters printed as data (JSON, code)."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    page = re.sub(r'<td class="hash">.*?</td>|<code>.*?</code>|<img [^>]*>', "", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def test_utc_text_gives_a_date_and_time_with_utc() -> None:
    from datetime import UTC, datetime

    from sitewatch.report.html import utc_text

    assert utc_text("2026-12-05T04:31:57.408Z") == "2026-12-05 04:31 UTC"
    assert utc_text("2024-10-12T09:10:00Z") == "2024-10-12 09:10 UTC"
    assert utc_text("2024-10-12T19:10:00+10:00") == "2024-10-12 09:10 UTC"
    assert utc_text("2024-10-17T12:00:00Z", True) == "2024-10-17, time unknown"
    assert utc_text(datetime(2024, 10, 17, 0, 40, tzinfo=UTC)) == "2024-10-17 00:40 UTC"
    assert (utc_text(None), utc_text(""), utc_text("yesterday")) == ("", "", "yesterday")


def test_report_shows_times_as_date_time_utc_not_iso(ws: Workspace, html: str) -> None:
    # "Recorded by sitewatch eval on 2026-12-05T04:31:57.408Z", the runs' "finished" and the
    # detections' "2024-10-17 01:00:00Z" (which wrapped at each hyphen) read as a date, a time and UTC.
    from sitewatch.evaluate import evaluate_workspace

    evaluate_workspace(ws)
    page = write_report(ws, None, ws.root / "eval-report.html").read_text(encoding="utf-8")
    assert not _ISO.search(_visible_text(page)), _ISO.findall(_visible_text(page))[:3]
    assert re.search(r"Recorded by <code>sitewatch eval</code> on \d{4}-\d\d-\d\d \d\d:\d\d UTC with", page)
    detections = page.split("<h3>Detections", 1)[1].split("</table>", 1)[0]
    assert '<td class="date">2024-10-17 01:00:00 UTC</td>' in detections  # one line: td.date does not wrap
    assert _rules(_style(page))["td.date"]["white-space"] == "nowrap"


def test_dashboard_shows_times_as_date_time_utc_not_iso(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get(_observation_path(client)).text
    assert not _ISO.search(_visible_text(page)), _ISO.findall(_visible_text(page))[:3]
    assert re.search(r"<th scope=\"row\">acquired</th><td>2024-10-\d\d \d\d:\d\d:00 UTC</td>", page)


def _screen_table(page: str) -> dict[str, str]:
    return _rules(_media(_style(page), "screen")).get("table", {})


def test_a_wide_table_scrolls_by_itself_on_a_phone(html: str, client) -> None:  # type: ignore[no-untyped-def]
    # At 390 px the periods, evaluation, links and claims tables (700-870 px) widened the whole page,
    # so a phone showed it zoomed out or cut. On screen each table scrolls sideways within the page;
    # on paper it does not (a scroll box prints only what it shows).
    pages = {"report": html, "sites": client.get("/").text, "site": client.get("/sites/dunai").text}
    for name, page in pages.items():
        assert _screen_table(page) == {"display": "block", "max-width": "100%", "overflow-x": "auto"}, name
        printed = _rules(_media(_style(page), "print")).get("table", {})
        assert "overflow-x" not in printed and "display" not in printed, name
        assert "overflow-x" not in _rules(_style(page)).get("table", {}), name


def test_dashboard_map_labels_two_faces_of_one_pier_on_either_side() -> None:
    # "Pier, west face" and "Pier, east face" were both drawn from their centres rightwards, one over
    # the other. The western face's name now ends at its line and the eastern one's starts there.
    from shapely.geometry import LineString, box

    from sitewatch.model import Berth, Site
    from sitewatch.web.svg import site_svg

    west = Berth("pier-west", LineString([(132.3396, 42.876), (132.3396, 42.881)]), "Pier, west face")
    east = Berth("pier-east", LineString([(132.3399, 42.876), (132.3399, 42.881)]), "Pier, east face")
    quay = Berth("quay-north", LineString([(132.341, 42.8815), (132.3455, 42.8815)]), "North quay")
    site = Site("dunai", "Dunai", "naval_base", box(132.32, 42.865, 132.36, 42.895), (west, east, quay))
    svg = site_svg(site, [], "EPSG:32653")
    labels = {t: (float(x), a) for x, a, t in re.findall(r'<text x="([-\d.]+)"[^>]*text-anchor="(\w+)">([^<]+)</text>', svg)}
    assert labels["Pier, west face"][1] == "end" and labels["Pier, east face"][1] == "start"
    assert labels["North quay"][1] == "start"  # a berth alone keeps its name on its right
    assert labels["Pier, west face"][0] < labels["Pier, east face"][0]


def test_report_shortens_a_long_run_result_and_says_where_the_rest_is(tmp_path: Path) -> None:
    # An eval run's result holds every observation's figures: the demo's provenance table printed
    # 57 kB of JSON over 27 pages. Short results stay whole.
    w = build(tmp_path / "ws")
    with w.store() as st:
        st.record_run("import", "dunai", {}, {"observations": [{"id": f"o{k}", "tp": 1} for k in range(2000)]})
        st.record_run("detect", "dunai", {}, {"detections": 3})
    page = write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    cells = re.findall(r'<td class="hash">(.*?)</td>', page.split('<h2 id="provenance">', 1)[1], re.S)
    assert max(len(html_text.unescape(c)) for c in cells) < 700  # RUN_TEXT_CHARS and the note
    assert any("characters in all: the runs table of the workspace&#39;s sitewatch.gpkg)" in c for c in cells)
    assert "{&#34;detections&#34;: 3}" in cells


def test_findings_lead_to_the_images_and_verdicts_below(claims_html: str) -> None:
    # The findings named each change and the claims' verdicts came last, after every site's chips and
    # tables (page 81 of the demo's PDF): each change finding now links its two images, each claim's
    # verdict is a finding linked to its row, and the contents line names every section.
    ids = set(re.findall(r'\sid="([^"]+)"', claims_html))
    anchors = re.findall(r'href="#([^"]+)"', claims_html)
    assert anchors and all(a in ids for a in anchors), [a for a in anchors if a not in ids]
    findings = claims_html.split('<h2 id="findings">', 1)[1].split("<h2 ", 1)[0]
    change = re.search(r'2024-10-17 → 2024-10-20[^<]*<a href="#(pair-dunai-\d+)">', findings)
    assert change and f'<div class="pair" id="{change.group(1)}">' in claims_html
    claim = re.search(r'Claim ship-at-pier \(2024-10-17\): <a class="good" href="#(claim-1-1)">supported<span class="vh">: claim ship-at-pier</span></a>', findings)
    assert claim and f'<tr id="{claim.group(1)}">' in claims_html
    assert '<a href="#claims">claims</a>' in findings


def test_report_map_draws_a_ship_at_its_berth_over_the_berth_line() -> None:
    # "berths and all detections": the outlines were drawn under the berth lines (a matplotlib
    # collection's default order), and a ship lies along its berth, so the map showed none of them.
    import io

    import numpy as np
    from PIL import Image
    from shapely.geometry import LineString, box

    from sitewatch.model import Berth, Detection, Site
    from sitewatch.report.charts import site_map_figure

    berth = Berth("pier-east", LineString([(132.3399, 42.876), (132.3399, 42.881)]), "Pier, east face")
    site = Site("dunai", "Dunai", "naval_base", box(132.32, 42.865, 132.36, 42.895), (berth,))
    ship = Detection("o#1", "o", "vessel", box(132.3399, 42.8772, 132.3401, 42.8782), 111.0, 16.0, 0.0, 0.9, "t", "1")
    fig = site_map_figure(site, [ship])
    fig.axes[0].get_legend().remove()  # its vessel key is vermilion too, wherever the outline went
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    rgb = np.asarray(Image.open(buf).convert("RGB")).astype(int)
    # The vessel outline's vermilion #d55e00 (at 0.8 alpha over its black casing), not the berth's brown under it.
    red = (rgb[..., 0] > 150) & (rgb[..., 2] < 60) & (rgb[..., 0] - rgb[..., 1] > 60)
    assert red.sum() >= 10


def test_report_of_a_site_without_observations_says_so_in_a_row(tmp_path: Path) -> None:
    # Its imagery list, periods, timeline and detections were headings over empty tables; then a section each,
    # with a map drawn: 400 such sites (a port list) made a report of 22 MB.
    from dataclasses import replace

    w = build(tmp_path / "ws")
    with w.store() as st:
        st.put_site(replace(st.get_site("dunai"), id="empty", name="Empty harbour", berths=()))
    page = write_report(w, ["empty", "dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<h2 id="unimaged">Sites without imagery</h2>' in page and '<a href="#unimaged">1 site without imagery</a>' in page
    assert re.search(r'<tr id="site-empty"><td>empty</td><td><bdi>Empty harbour</bdi></td><td>naval base</td><td>located</td>'
                     r'<td class="num">42\.\d{4}, 132\.\d{4}</td><td class="num">0</td></tr>', page)  # fmt: skip
    assert '<h2 id="site-empty"' not in page and '<h2 id="site-dunai"' in page  # no section of its own
    assert "Bring imagery in with <code>sitewatch fetch</code>" in page


def test_report_of_a_workspace_without_observations_says_what_to_do(tmp_path: Path) -> None:
    from sitewatch.workspace import init_workspace

    page = write_report(init_workspace(tmp_path / "ws"), None, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No site with observations: bring imagery in with <code>sitewatch fetch</code>" in page


def test_dashboard_site_note_and_json_links_are_apart(tmp_path: Path) -> None:
    # "…layout from the demo scenario.JSON: timeline": the line break after the note was eaten.
    from dataclasses import replace

    pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from sitewatch.web import create_app

    w = build(tmp_path / "ws")
    with w.store() as st:
        st.put_site(replace(st.get_site("dunai"), note="Layout from the demo scenario."))
    page = TestClient(create_app(w)).get("/sites/dunai").text
    assert "Layout from the demo scenario.</bdi><br>\nJSON:" in page


def test_timeline_chart_prints_departures_above_the_bar_in_text_contrast() -> None:
    # On a date that kept one of two vessels the "-1" was drawn 9 points down, inside the blue bar: red
    # on blue, unreadable (the demo's Rason chart, 4 October 2023). Arrival and departure counts now
    # stand above the bar, one over the other, in colours of at least 4.5:1 on the white chart.
    from matplotlib.colors import to_rgb

    from sitewatch.analysis import build_timeline
    from sitewatch.report.charts import timeline_figure
    from test_occupancy import obs, vessel

    a, b, c = obs("2024-10-14"), obs("2024-10-17"), obs("2024-10-20")
    # Two ships on the 17th; on the 20th one stayed, the other left and a third came.
    dets = [vessel(b, 0), vessel(b, 1, berth="b2", dx_m=300), vessel(c, 0), vessel(c, 2, berth="b3", dx_m=600)]
    tl = build_timeline("dunai", [a, b, c], dets)
    assert [(r.vessels, r.arrivals, r.departures) for r in tl.rows][2] == (2, 1, 1)
    counts = {t.get_text(): t for t in timeline_figure(tl).axes[0].texts}
    assert {"+2", "+1", "\u22121"} <= set(counts)
    assert all(t.xyann[1] > 0 for t in counts.values()), {k: t.xyann for k, t in counts.items()}
    assert counts["\u22121"].xyann[1] > counts["+1"].xyann[1] + 7  # over the arrival's count, not on it

    def contrast(colour: str) -> float:
        lin = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in to_rgb(colour)]
        return 1.05 / (0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05)

    assert min(contrast(t.get_color()) for t in counts.values()) >= 4.5


def test_an_id_column_is_not_squeezed_to_a_few_characters_on_a_phone(html: str, client) -> None:  # type: ignore[no-untyped-def]
    # Ids and hashes break anywhere; at 420 px the tables' auto layout narrowed those columns to 2-4
    # characters a line ("duna/i" on the sites page, a region id over 14 lines on a pair's page). Each
    # such cell keeps a width of its own, and the table, which scrolls sideways on a phone, scrolls instead.
    pages = {"report": html, "sites": client.get("/").text, "observation": client.get(_observation_path(client)).text}
    for name, page in pages.items():
        rules = _rules(_style(page))
        cells = set(re.findall(r'<td class="(hash|ids)"', page))
        assert cells, name
        for c in cells:
            rule = rules.get(f"td.{c}", {})
            assert rule.get("white-space") == "nowrap" or rule.get("min-width") == "12ch", (name, c)
        # Nor the class candidates, a sentence, to a word a line (a row 60 lines tall).
        if name != "sites":
            assert '<td class="words">' in page and rules["td.words"]["min-width"] == "16em", name


def _east_west_pier() -> tuple[Site, tuple[float, float]]:
    """Rason's pier 1, running east-west with a north and a south face, and its western and eastern ends."""
    from shapely.geometry import LineString, box

    from sitewatch.model import Berth

    north = Berth("pier-1-north", LineString([(130.2985, 42.2368), (130.3015, 42.2368)]), "Pier 1, north face")
    south = Berth("pier-1-south", LineString([(130.2985, 42.2364), (130.3015, 42.2364)]), "Pier 1, south face")
    site = Site("rason", "Rason", "port", box(130.28, 42.22, 130.32, 42.25), (north, south))
    return site, (130.2985, 130.3015)


def test_maps_name_the_north_and_south_faces_of_a_pier_apart_and_clear_of_its_ships() -> None:
    # Rason's "Pier 1, north face" and "Pier 1, south face" were written left and right of the pier's
    # middle, at the same height: over the ships moored along it and over each other's line. Faces one
    # over the other are now named above and below, beyond the pier's eastern end, on a white halo.
    from matplotlib.text import Annotation
    from pyproj import Transformer

    from sitewatch.report.berth_labels import label_sides
    from sitewatch.report.charts import site_map_figure
    from sitewatch.web.svg import site_svg

    site, (_, east_end) = _east_west_pier()
    assert label_sides([b.geometry.centroid for b in site.berths], 0.01) == ["above", "below"]

    svg = site_svg(site, [], "EPSG:32652")
    texts = {t: (float(x), float(y), rest) for x, y, rest, t in
             re.findall(r'<text x="([-\d.]+)" y="([-\d.]+)"([^>]*)>([^<]+)</text>', svg)}  # fmt: skip
    north, south = texts["Pier 1, north face"], texts["Pier 1, south face"]
    assert north[1] < south[1]  # SVG's y grows downwards: the north face's name is the upper one
    east_x = Transformer.from_crs("EPSG:4326", "EPSG:32652", always_xy=True).transform(east_end, 42.2366)[0]
    assert min(north[0], south[0]) > east_x  # beyond the pier's end, not over its ships
    assert all('paint-order="stroke"' in t[2] and 'stroke="#fff"' in t[2] for t in (north, south))

    ax = site_map_figure(site).axes[0]
    names = {a.get_text(): a for a in ax.texts if isinstance(a, Annotation)}
    n, s = names["Pier 1, north face"], names["Pier 1, south face"]
    assert n.xy[0] == s.xy[0] == east_end and n.xyann[1] > 0 > s.xyann[1]
    assert (n.get_va(), s.get_va()) == ("bottom", "top") and n.get_path_effects()


def test_every_link_and_image_on_the_dashboard_resolves(client) -> None:  # type: ignore[no-untyped-def]
    # Crawled from the sites page: each page's links, images and #anchors answer 200 and exist, and
    # "this page's data" is JSON. An error page's nav pointed "this page's data" at the sites' list.
    from urllib.parse import urldefrag, urljoin

    from _a11y import elements

    pages: dict[str, set[str]] = {}
    queue, checked = ["/"], set()
    anchors: list[tuple[str, str, str]] = []
    while queue:
        url = queue.pop()
        if url in pages:
            continue
        page = client.get(url)
        assert page.status_code == 200, url
        els = elements(page.text)
        pages[url] = {e.attrs["id"] for e in els if "id" in e.attrs}
        for e in els:
            ref = e.attrs.get("href") or e.attrs.get("src")
            if not ref or ref.startswith("data:"):
                continue
            assert not ref.startswith(("http:", "https:", "//")), (url, ref)
            target, fragment = urldefrag(urljoin(url, ref))
            if fragment:
                anchors.append((url, target, fragment))
            if e.tag == "a" and target.startswith(("/sites", "/observations", "/changes", "/links")) and not (
                target.endswith((".png", ".tif"))
            ):
                queue.append(target)
            elif target not in checked:
                checked.add(target)
                answer = client.head(target)
                assert answer.status_code == 200, (url, ref, answer.status_code)
            if e.inner_text() == "this page's data":
                assert client.get(ref).headers["content-type"].startswith("application/json"), (url, ref)
    assert len(pages) >= 5 and checked and anchors
    assert [a for a in anchors if a[2] not in pages.get(a[1], set())] == []
    for url in ("/site/dunai", "/sites/nowhere", "/observations/dunai/nothing"):
        error = client.get(url)
        assert error.status_code == 404 and "this page's data" not in error.text.replace("&#39;", "'"), url


def test_a_claim_resting_on_many_images_lists_them_in_a_box_of_their_own(html: str) -> None:
    # The demo's "ships at Rason on 34 days" rests on 34 images: its row ran over four screens. Past
    # six, the images scroll in a short box (whole on paper, as every scroll box is printed).
    from sitewatch.analysis.occupancy import TimelineParams
    from sitewatch.report.html import template_environment

    env = template_environment()
    env.filters["image_href"] = lambda path: path

    def row(n: int) -> str:
        images = [{"path": f"archive/o{k}.tif", "observation_id": f"s/o{k}", "label": "10 m SAR", "simulated": True,
                   "note": "", "sha256": "0" * 64} for k in range(n)]  # fmt: skip
        claims = {"simulated": True, "files": [{"name": "c.yaml", "title": "c", "refused": [], "rows": [
            {"id": "c1", "text": "t", "source": "s", "dates": "2024-10-01", "verdict": "supported", "partial": False,
             "reason": "r", "images": images}]}]}  # fmt: skip
        page = env.get_template("claims.html.j2").render(claims=claims, params=TimelineParams(), date_zone="UTC")
        return page.split('<tr id="claim-1-1">', 1)[1].split("</tr>", 1)[0]

    few, many = row(6), row(45)
    assert "scroll" not in few and few.count('<a href="archive/') == 6
    box = re.search(r'45 images:<div class="scroll short" tabindex="0"[^>]*>(.*?)</div></td>', many, re.S)
    assert box and box.group(1).count('<a href="archive/') == 45
    css = _style(html)
    assert _rules(_media(css, "screen"))[".scroll.short"]["max-height"] == "18em"  # and a border: it scrolls
    assert _rules(_media(css, "print"))[".scroll"]["max-height"] == "none"


def test_the_timeline_chart_scrolls_at_its_size_on_a_phone(html: str, client) -> None:  # type: ignore[no-untyped-def]
    # Shrunk to a 420 px screen, Rason's half-year chart (1048 px) had dates and counts 3 px high. On
    # screen it keeps its size in a box that scrolls sideways (and takes focus, to scroll by keyboard);
    # on paper it fits the page.
    from _a11y import elements

    for name, page in {"report": html, "site": client.get("/sites/dunai").text}.items():
        charts = [e for e in elements(page) if e.tag == "img" and e.attrs.get("alt", "").startswith("Bar chart of vessels")]
        assert charts, name
        for img in charts:
            box = img.ancestors[-1]
            assert box.tag == "div" and "chart" in box.classes and box.attrs.get("tabindex") == "0", name
            assert any(a.tag == "figure" for a in img.ancestors), name
        css = _style(page)
        screen = _rules(_media(css, "screen"))
        assert screen[".chart"]["overflow-x"] == "auto" and screen[".chart img"]["max-width"] == "none", name
        assert ".chart img" not in _rules(css) and ".chart img" not in _rules(_media(css, "print")), name


def test_a_table_in_a_scroll_box_is_scrolled_by_the_box(html: str, client) -> None:  # type: ignore[no-untyped-def]
    # A table scrolling sideways by itself inside a box scrolling down took a tab stop of its own (the
    # box's focus scrolls only the box): in a box it is a table again, and the box scrolls it both ways.
    for name, page in {"report": html, "site": client.get("/sites/dunai").text}.items():
        assert re.search(r'<div class="scroll" tabindex="0"[^>]*>\n<table><caption', page), name
        screen = _rules(_media(_style(page), "screen"))
        assert screen[".scroll > table"] == {"display": "table", "max-width": "none"}, name
        assert _rules(_style(page))[".scroll"]["overflow"] == "auto", name


def test_every_table_is_named_and_its_headers_scoped(html: str, claims_html: str, client) -> None:  # type: ignore[no-untyped-def]
    # A screen reader lists a page's tables by their captions and reads each cell with its headers:
    # no table had a caption, no header cell a scope, and a focused table or scroll box was announced
    # as "table" or nothing at all.
    from _a11y import elements, table_problems, unnamed_focus_boxes

    pages = {"report": html, "claims": claims_html, "sites": client.get("/").text, "site": client.get("/sites/dunai").text,
             "links": client.get("/links").text, "observation": client.get(_observation_path(client)).text}
    for name, page in pages.items():
        els = elements(page)
        assert name == "links" or any(e.tag == "table" for e in els), name  # one site here: no links
        assert table_problems(els) == [], name
        assert unnamed_focus_boxes(els) == [], name


def test_every_template_names_its_tables_and_scopes_its_headers() -> None:
    # The pages the tests render do not show every table (the report's AIS tables need AIS files):
    # the templates themselves, then, each table opening on its caption, each header cell scoped.
    import sitewatch.report as report_pkg
    import sitewatch.web as web_pkg

    templates = [*(Path(report_pkg.__file__).parent / "templates").glob("*.j2"), *(Path(web_pkg.__file__).parent / "templates").glob("*.j2")]
    tables = 0
    for t in templates:
        text = t.read_text(encoding="utf-8")
        tables += len(re.findall(r"<table\b", text))
        assert not re.findall(r"<table\b[^>]*>(?!<caption class=\"vh\">[^<]+)", text), t.name
        assert not re.findall(r"<th(?! scope=\"(?:col|row)\")[\s>]", text), t.name
    assert tables >= 20


def test_a_chart_wider_than_the_screen_says_that_it_scrolls(html: str, client) -> None:  # type: ignore[no-untyped-def]
    # On a phone the chart's box scrolls sideways, but its scroll bar hides until touched: a chart cut at
    # the screen's edge looked whole. A line above it says so on screens narrower than that chart (its
    # width, which its <img> now gives, plus the page's padding), and nowhere else.
    import base64

    from _a11y import elements
    from sitewatch.report.charts import png_size

    site = client.get("/sites/dunai").text
    for name, page in {"report": html, "site": site}.items():
        css = _style(page)
        assert _rules(css)[".scroll-hint"]["display"] == "none", name
        els = elements(page)
        for fig in (e for e in els if e.tag == "figure" and any("chart" in c.classes for c in e.children)):
            hint, box = fig.children[:2]
            assert "scroll-hint" in hint.classes and "scrolls sideways" in hint.inner_text(), name
            img = box.children[0]
            src = img.attrs["src"]
            png = base64.b64decode(src.split(",", 1)[1]) if src.startswith("data:") else client.get(src).content
            assert (int(img.attrs["width"]), int(img.attrs["height"])) == png_size(png), name
            query = f"@media screen and (max-width: calc({img.attrs['width']}px + 2.4em)) {{ #{hint.attrs['id']} {{ display: block; }} }}"
            assert query in css, name
    assert '"scroll-hint"' not in client.get("/").text


def test_timeline_chart_of_years_marks_arrivals_and_departures_rather_than_counting_each() -> None:
    # Three years of daily images at a port with calls a week or two apart: each arrival's "+1" ran into the
    # next ("+1+:+1"), a row of text no one could read. Past a year a period marks them with triangles.
    from datetime import date, timedelta

    from sitewatch.analysis import build_timeline
    from sitewatch.report.charts import timeline_figure
    from test_occupancy import obs, vessel

    days = [date(2021, 1, 1) + timedelta(days=k) for k in range(400)]
    observations = [obs(d.isoformat()) for d in days]
    dets = [vessel(o, 0) for k, o in enumerate(observations) if k % 10 < 3]  # three days in ten
    tl = build_timeline("dunai", observations, dets)
    arrivals = sum(r.arrivals for r in tl.rows)
    assert len(tl.periods) == 1 and arrivals > 30
    ax = timeline_figure(tl).axes[0]
    assert not [t for t in ax.texts if t.get_text().startswith(("+", "\u2212"))]
    marks = {c.get_label(): len(c.get_offsets()) for c in ax.collections}
    assert marks["arrival"] == arrivals and marks["departure"] == sum(1 for r in tl.rows if r.departures)
    short = build_timeline("dunai", observations[:60], [d for d in dets if d.observation_id in {o.id for o in observations[:60]}])
    assert any(t.get_text() == "+1" for t in timeline_figure(short).axes[0].texts)  # a shorter period keeps its counts


def test_a_right_to_left_site_name_is_isolated_in_the_report_and_the_dashboard(tmp_path: Path) -> None:
    """An Arabic site name is set apart (<bdi>) from the text after it: in a left-to-right page the neutral ': ' and
    the number after 'ميناء طرطوس: 3 regions…' took the name's direction, and the 3 was shown left of the name."""
    from dataclasses import replace

    name = "ميناء دوناي"
    w = build(tmp_path / "ws")
    with w.store() as st:
        st.put_site(replace(st.get_site("dunai"), name=name, note="رصيف 2"))
        st.put_site(replace(st.get_site("dunai"), id="empty", name="ميناء فارغ", berths=()))
    page = write_report(w, ["empty", "dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert f'<h2 id="site-dunai"><bdi>{name}</bdi> <span class="meta">' in page
    assert f'<a href="#site-dunai"><bdi>{name}</bdi></a>' in page  # the list of sites under the heading
    assert '<td>empty</td><td><bdi>ميناء فارغ</bdi></td>' in page
    text = re.sub(r"<(?!/?bdi>)[^>]*>", "<>", page.split("<body", 1)[1])  # the page's text, without attributes
    assert text.count(name) == text.count(f"<bdi>{name}</bdi>") > 5  # the findings' "NAME: 1 presence day…" too

    pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app

    client = TestClient(create_app(w.root))
    assert f"<td><bdi>{name}</bdi></td>" in client.get("/").text
    site_page = client.get("/sites/dunai").text
    assert f"<h1><bdi>{name}</bdi> <span" in site_page and "<bdi>رصيف 2</bdi>" in site_page
    text = re.sub(r"<(?!/?bdi>)[^>]*>", "<>", site_page)
    assert text.count(name) == text.count(f"<bdi>{name}</bdi>") > 3
