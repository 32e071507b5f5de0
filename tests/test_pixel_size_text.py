"""A resolution reads as a person writes it (three figures: ``9.54 m``, ``10 m``, ``0.5 m``) wherever it is shown.

An image's pixel size comes from its file (a reprojected Sentinel-2 tile: 9.54335 m), and lines, pages and chart titles
printed it with ``:g`` (``9.54335 m``), ``num(1)`` (``10.0 m``) or ``num(0)`` (``0 m pixels`` at 0.5 m). ``--json``
and the exports keep the full value. Each test fails on the code before :func:`sitewatch.units.pixel_size_text` was
used there.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import box

from _report_world import build
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.model import Grid, Site
from sitewatch.units import pixel_size_text
from sitewatch.workspace import Workspace
from test_claims import LANDING, obs, verdict, vessel

ODD = 9.54335
"""A pixel size as a file gives it (OSCD's reprojected Sentinel-2)."""


@pytest.mark.parametrize(("metres", "said"), [(ODD, "9.54 m"), (10.0, "10 m"), (0.5, "0.5 m"), (2.98765, "2.99 m"),
                                              (0.3125, "0.312 m"), (1250.0, "1250 m"), (30.000001, "30 m"),
                                              (0.00001, "1e-05 m"), (0.0000898, "8.98e-05 m")])  # fmt: skip
def test_pixel_size_text(metres: float, said: str) -> None:
    assert pixel_size_text(metres) == said


def _odd(root: Path) -> Workspace:
    """The report world with its SAR images at 9.54335 m pixels (the optical ones 3 m)."""
    ws = build(root)
    with ws.store() as st, st.transaction() as db:
        db.execute("UPDATE scenes SET resolution_m = ? WHERE sensor = 'sar'", (ODD,))
    return ws


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return _odd(tmp_path_factory.mktemp("odd") / "ws")


def _said(text: str) -> None:
    assert "9.54335" not in text and "9.54 m" in text, text


# --- claims check ---------------------------------------------------------------------------------


def test_a_claim_s_reason_names_the_image_s_pixel_size_in_three_figures() -> None:
    o = obs("2024-10-17", hour=0, res=ODD)
    r = verdict(LANDING, [o], [vessel(o, 0, 111.0)])
    assert r.reason.startswith("2024-10-17 00:00 UTC, 9.54 m SAR: a 111 m vessel"), r.reason


def test_a_length_within_the_error_names_the_pixel_size_in_three_figures() -> None:
    o = obs("2024-10-17", res=ODD)
    r = verdict(LANDING, [o], [vessel(o, 0, 135.0)])
    assert r.verdict == "not testable" and "error of 9.54 m pixels" in r.reason, r.reason


def test_a_class_size_cannot_tell_names_the_pixel_size_in_three_figures() -> None:
    o = obs("2024-10-17", res=ODD)
    r = verdict({"kind": "vessel_present", "berth": "pier-east", "class": "Ropucha"}, [o], [vessel(o, 0, 112.0)])
    assert "at 9.54 m pixels its size fits" in r.reason, r.reason


# --- commands -------------------------------------------------------------------------------------


def test_observations_table(odd: Workspace) -> None:
    r = CliRunner().invoke(main, ["observations", "-w", str(odd.root)], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    _said(r.output)
    assert "sar 9.54 m" in r.output and "optical 3 m" in r.output


def test_change_line_names_the_series(tmp_path: Path) -> None:
    ws = _odd(tmp_path / "ws")
    r = CliRunner().invoke(main, ["change", "dunai", "-w", str(ws.root)])
    assert r.exit_code in (0, 3), r.output
    assert " 9.54 m sar: " in r.output and "9.54335" not in r.output, r.output


def test_links_cell_gives_the_pixel_size_and_none_when_unknown() -> None:
    from sitewatch.analysis.links import Move
    from sitewatch.cli.links import _end

    m = Move("arrival", "dunai", datetime(2024, 10, 17, tzinfo=UTC).date(), None, "d#0", "dunai/x", "x", "archive/x.tif",
             datetime(2024, 10, 17, 9, tzinfo=UTC), False, "sar", ODD, 132.3, 42.9, 111.0, 15.0, False)  # fmt: skip
    assert "111 m at 9.54 m pixels" in _end(m)
    from dataclasses import replace

    assert "pixels" not in _end(replace(m, resolution_m=None))  # not "at 0 m pixels"


def test_ingest_errors_give_the_image_s_pixel_size_in_three_figures() -> None:
    from sitewatch.ingest.grid import site_grid, too_small_for

    tiny = Site("pier", "Pier", "berth", box(132.3380, 42.8800, 132.33805, 42.88003))
    grid = Grid("EPSG:32653", (ODD, 0.0, 0.0, 0.0, -ODD, 0.0), 10, 10)
    text = str(too_small_for(tiny, grid))
    assert "one 9.54 m pixel" in text and "at least 19.1 m across" in text and "9.54335" not in text, text
    huge = Site("sea", "Sea", "area", box(130.0, 40.0, 131.9, 41.9))
    with pytest.raises(InputError) as err:
        site_grid(huge, 0.954335)
    assert "at 0.954 m pixels" in str(err.value) and "0.954335" not in str(err.value), err.value


# --- report and dashboard -------------------------------------------------------------------------


def test_report_lines_and_chip_titles(odd: Workspace) -> None:
    from sitewatch.report.charts import chip_figure
    from sitewatch.report.html import write_report

    html = write_report(odd, None, odd.root / "out" / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"data:image/png;base64,[^\"]+", "", html)
    assert "sar 9.54 m" in text and "· 9.54 m: " in text, "the detection table's image, the coverage line"
    assert not re.search(r"9\.54335 m|9\.5 m\b|\b10\.0 m\b|\b3\.0 m\b", text)
    with odd.store() as st:
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "sar" and st.detections(observation_id=o.id))
        dets = st.detections(observation_id=o.id)
    fig = chip_figure(odd.root / o.path, o, dets, dets[0].footprint, margin_m=40)
    assert fig is not None and "sar 9.54 m" in fig.axes[0].title.get_text(), fig.axes[0].title.get_text()


def test_dashboard_pages(odd: Workspace) -> None:
    pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from sitewatch.web import create_app
    from sitewatch.web.quicklook import QuicklookCache

    client = TestClient(create_app(odd.root, cache=QuicklookCache()))
    site = client.get("/sites/dunai")
    assert site.status_code == 200
    assert ">9.54 m<" in site.text and ">3 m<" in site.text and ">3.0 m<" not in site.text
    page = client.get("/observations/dunai:sim-dunai-2024-10-17-sar")
    assert page.status_code == 200
    assert "· 9.54 m ·" in page.text and "<td>9.54 m</td>" in page.text and "9.5 m" not in page.text


def test_no_template_writes_a_resolution_with_a_fixed_number_of_decimals() -> None:
    """``num(0)`` gave "0 m pixels" at 0.5 m (the links' moves), ``num(1)`` "10.0 m": every page's resolution
    goes through the ``pixel_size`` filter."""
    root = Path(__file__).parents[1] / "src" / "sitewatch"
    found = [f"{p.name}: {m.group(0)}" for p in sorted([*root.glob("web/templates/*.j2"), *root.glob("report/templates/*.j2")])
             for m in re.finditer(r"resolution_m\s*\|\s*(?!pixel_size\b)\w+(\([^)]*\))?", p.read_text(encoding="utf-8"))]  # fmt: skip
    assert not found, found
    from sitewatch.report.html import template_environment

    env = template_environment()
    assert env.from_string("{{ v|pixel_size }} pixels").render(v=0.5) == "0.5 m pixels"
    assert env.from_string("{{ v|pixel_size }}").render(v=None) == "–"


def test_a_grid_refused_for_a_tiny_pixel_size_names_that_size() -> None:
    """An image whose transform is in degrees but whose CRS says metres (0.00001 "m" pixels) is refused for the
    pixels it would make, asking whether its pixel size is right: the message said "at 0 m pixels"."""
    from sitewatch.ingest.grid import site_grid

    site = Site("pier", "Pier", "berth", box(30.0, 45.0, 30.01, 45.01))
    with pytest.raises(InputError, match=r"at 1e-05 m pixels would be"):
        site_grid(site, 0.00001)
