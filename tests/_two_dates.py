"""A simulated site imaged twice, 1 and 6 October 2024, by a Sentinel-2-like and a Sentinel-1-like
series, with one object (drawn as the simulator draws a hull) set down on 4 October: the change tests'
scenario; and a scenario's scenes simulated and ingested into a workspace of its site. Simulated imagery
throughout."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner
from shapely.geometry import box

from sitewatch.cli import main
from sitewatch.sources.scenario import (
    Acquisitions,
    Layout,
    Scenario,
    SimSite,
    Vessel,
    Visit,
    Window,
)
from sitewatch.sources.simulate import layout_site, simulate
from sitewatch.testing import workspace_with_sites
from sitewatch.workspace import Workspace

LON, LAT, HALF = 131.661, 44.338, 0.008  # a field near Sergeyevka (SEED-STORY: trenches, October 2024)


def two_date_scenario(
    site_id: str, site_name: str, kind: str, *, water_edge_m: float, thing: Vessel, name: str, title: str
) -> Scenario:
    """Land east of ``water_edge_m`` (metres east of the centre; water west of it); ``thing`` a vessel
    whose one visit (at ``site_id``, from 4 October) the caller has built with :func:`arriving`."""
    site = SimSite(
        id=site_id, name=site_name, kind=kind,
        polygon=box(LON - HALF, LAT - HALF, LON + HALF, LAT + HALF),
        layout=Layout(land=(((water_edge_m, -2000.0), (2000.0, -2000.0), (2000.0, 2000.0), (water_edge_m, 2000.0)),), scatterers=0),
        from_gazetteer=False,
    )  # fmt: skip
    days = (date(2024, 10, 1), date(2024, 10, 6))
    series = (
        Acquisitions("s2", site_id, "optical", "simulated-s2", "sim-s2", 10.0, days[0], days[1], dates=days, scl=True),
        Acquisitions("s1", site_id, "sar", "simulated-s1", "sim-s1", 10.0, days[0], days[1], dates=days),
    )
    return Scenario(name, title, 5, "two dates", (site,), series, vessels=(thing,))


def arriving(site_id: str, position: tuple[float, float], heading_deg: float) -> tuple[Visit, ...]:
    """One visit at ``site_id`` from 4 October 2024 (between the two dates) to November."""
    arrives = Window(datetime(2024, 10, 4, tzinfo=UTC), datetime(2024, 11, 1, tzinfo=UTC))
    return (Visit(site_id, arrives, position=position, heading_deg=heading_deg),)


def simulated_workspace(scenario: Scenario, folder: Path) -> tuple[list[Path], Workspace]:
    """``scenario`` (of one site) simulated into ``folder / "sim"`` and its scenes ingested into a new
    workspace ``folder / "ws"`` of that site: the scenes' paths (each with its truth beside it) and the
    workspace."""
    paths = simulate(scenario, folder / "sim")
    site = layout_site(scenario.sites[0], scenario.name)
    ws = workspace_with_sites(folder / "ws", site)
    res = CliRunner().invoke(main, ["ingest", site.id, *map(str, paths), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    return paths, ws
