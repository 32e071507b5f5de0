"""High latitudes: a hull imaged at Longyearbyen (78.2° N) and McMurdo (77.9° S) in the CRSs a user gets there
(polar stereographic, whose grid north is tens of degrees off true north; Web Mercator, whose "10 m" pixel is
2 m on the ground) comes out of ingest and detect with its length in ground metres and its heading from true
north, and the site's valid fraction is the share of it the image covers. SIMULATED SAR scenes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from pyproj import CRS, Transformer

from sitewatch.cli import main
from sitewatch.sites import site_from_bbox
from sitewatch.testing import workspace_with_sites, write_tiff

HULL = (150.0, 22.0, 30.0)  # length, beam (m), heading from true north (degrees)


def _scene(path: Path, lon: float, lat: float, crs: str, res: float, size_m: float = 2400.0) -> Path:
    """Speckled sea over ``size_m`` of ground around (lon, lat) in ``crs``, one hull drawn in ground metres at the centre."""
    c = CRS.from_user_input(crs)
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    to_ll, from_ll = Transformer.from_crs(local, "EPSG:4326", always_xy=True), Transformer.from_crs("EPSG:4326", local, always_xy=True)
    to_c, from_c = Transformer.from_crs("EPSG:4326", c, always_xy=True), Transformer.from_crs(c, "EPSG:4326", always_xy=True)
    edge = np.linspace(-size_m / 2, size_m / 2, 5)
    xs, ys = to_c.transform(*to_ll.transform(*np.meshgrid(edge, edge)))
    w, h = math.ceil((xs.max() - xs.min()) / res), math.ceil((ys.max() - ys.min()) / res)
    t = Affine(res, 0, xs.min(), 0, -res, ys.max())
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    east, north = from_ll.transform(*from_c.transform(t.c + cols * t.a, t.f + rows * t.e))
    rng = np.random.default_rng(11)
    data = rng.gamma(4.5, 0.01 / 4.5, (h, w)).astype("float32")
    length, beam, heading = HULL
    a = math.radians(heading)
    along, across = east * math.sin(a) + north * math.cos(a), east * math.cos(a) - north * math.sin(a)
    hull = (np.abs(along) <= length / 2) & (np.abs(across) <= beam / 2)
    data[hull] = rng.gamma(4.5, 1 / 4.5, int(hull.sum())).astype("float32") + 0.5
    return write_tiff(path, data, crs=crs, transform=t, descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})


@pytest.mark.parametrize(
    ("place", "lon", "lat", "crs", "res", "grid_north_off"),
    [
        ("longyearbyen", 15.6, 78.225, "EPSG:3413", 10.0, 60.6),  # NSIDC north, central meridian 45° W
        ("longyearbyen", 15.6, 78.225, "EPSG:3857", 10.0, 0.0),  # a "10 m" Web Mercator pixel: 2.05 m
        ("mcmurdo", 166.67, -77.85, "EPSG:3031", 10.0, 166.67),  # Antarctic, central meridian 0°
    ],
)
def test_a_hull_at_high_latitude_keeps_its_ground_length_and_true_heading(
    tmp_path: Path, place: str, lon: float, lat: float, crs: str, res: float, grid_north_off: float
) -> None:
    site = site_from_bbox(place, (lon - 0.05, lat - 0.01, lon + 0.05, lat + 0.01), name=place, kind="port")
    ws = workspace_with_sites(tmp_path / "ws", site)
    image = _scene(tmp_path / f"{place}_20241017.tif", lon, lat, crs, res)
    for args in (["ingest", place, str(image)], ["detect", place, "--workers", "1"], ["export", "--out", str(tmp_path / "d.geojson")]):
        res_ = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
        assert res_.exit_code == 0, res_.output
    obs = json.loads(CliRunner().invoke(main, ["observations", "--json", "-w", str(ws.root)]).output)
    assert obs[0]["valid_pct"] == pytest.approx(100.0)  # the 2.4 km image covers the 2.3 × 2.2 km site
    if crs == "EPSG:3857":
        assert obs[0]["resolution_m"] == pytest.approx(10.0 * math.cos(math.radians(lat)), rel=0.02)  # 2.05 m, not 10
    (det,) = [f["properties"] for f in json.loads((tmp_path / "d.geojson").read_text(encoding="utf-8"))["features"]]
    length, _, heading = HULL
    assert det["length_m"] == pytest.approx(length, rel=0.08)
    # Within 3° of true north's 30°, not the grid's (60.6° and 166.7° off it here): ingest puts the image on the
    # site's UTM grid, and detect-image measures it on its own polar grid.
    assert abs((det["heading_deg"] - heading + 90.0) % 180.0 - 90.0) <= 3.0, (det["heading_deg"], grid_north_off)
    res_ = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(tmp_path / "alone.geojson")])
    assert res_.exit_code == 0, res_.output
    (alone,) = [f["properties"] for f in json.loads((tmp_path / "alone.geojson").read_text(encoding="utf-8"))["features"]]
    assert alone["length_m"] == pytest.approx(length, rel=0.08)
    assert abs((alone["heading_deg"] - heading + 90.0) % 180.0 - 90.0) <= 3.0, (alone["heading_deg"], grid_north_off)
