"""Dual-polarisation SAR (co- and cross-polarised channels): detect in both, fuse."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sitewatch.detect.sar import detect_sar
from sitewatch.detect.sar_dual import detect_sar_dual, fuse_polarisations
from sitewatch.errors import InputError
from test_sar import PX, SEA, match, ship_fraction, speckle

SHIP = (60.0, 60.0, 113.0, 15.6, 30.0)


def _pair(rng: np.random.Generator, co_db: float, cross_db: float, shape: tuple[int, int] = (120, 120)) -> tuple[np.ndarray, np.ndarray]:
    """A co-polarised and a cross-polarised channel of one ship, hull ``co_db`` / ``cross_db`` over the sea.

    The cross-polarised sea is 8 dB darker, as on Sentinel-1 IW (VV vs VH).
    """
    hull = ship_fraction(shape, *SHIP)
    co = speckle(rng, SEA * (1 + hull * 10 ** (co_db / 10)), shape)
    cross = speckle(rng, SEA / 6.3 * (1 + hull * 10 ** (cross_db / 10)), shape)
    return co.astype(np.float32), cross.astype(np.float32)


def test_ship_faint_in_co_pol_is_found_in_cross_pol() -> None:
    co, cross = _pair(np.random.default_rng(3), 3.0, 20.0)
    assert not match(detect_sar(co, PX), [SHIP])  # what a VV-only detector misses
    dets = detect_sar_dual(co, cross, PX)
    assert len(match(dets, [SHIP])) == 1


def test_ship_seen_in_both_is_one_detection_with_the_mean_length() -> None:
    co, cross = _pair(np.random.default_rng(4), 20.0, 20.0)
    a, b = detect_sar(co, PX), detect_sar(cross, PX)
    assert len(a) == 1 and len(b) == 1
    dets = detect_sar_dual(co, cross, PX)
    assert len(dets) == 1
    d = dets[0]
    assert d.length_m == pytest.approx((a[0].length_m + b[0].length_m) / 2)
    assert d.width_m == pytest.approx((a[0].width_m + b[0].width_m) / 2)
    assert (d.row, d.col) == (b[0].row, b[0].col)
    assert d.score == max(a[0].score, b[0].score)
    # The box is rebuilt for the fused size: its long side is the fused length.
    c = np.array(d.corners) * PX
    assert np.hypot(*(c[1] - c[0])) == pytest.approx(d.length_m, rel=1e-6)


def test_ships_apart_in_the_two_channels_are_both_kept() -> None:
    rng = np.random.default_rng(5)
    co, _ = _pair(rng, 20.0, 20.0)
    far = detect_sar(co, PX)
    moved = [replace(far[0], row=far[0].row + 40, corners=tuple((x, y + 40) for x, y in far[0].corners))]
    fused = fuse_polarisations(far, moved, PX)
    assert len(fused) == 2
    assert fuse_polarisations([], far, PX) == far and fuse_polarisations(far, [], PX) == far



def test_a_co_pol_hull_cut_into_pieces_in_cross_pol_is_one_detection() -> None:
    # VV sees the hull whole; VH sees it as a body and a fragment at the stern (OpenSARShip GRD
    # Cargo_x5258_y11247, 363 m: 342 m in VV, 273 m + pieces in VH). Before sitewatch-sar 1.9.0
    # the VH pieces were reported and the VV hull lost.
    co, cross = _pair(np.random.default_rng(4), 20.0, 20.0)
    a, b = detect_sar(co, PX), detect_sar(cross, PX)
    assert len(a) == 1 and len(b) == 1
    body = b[0]
    shift = 0.55 * body.length_m / PX
    t = np.radians(SHIP[4])
    dr, dc = -shift * np.cos(t), shift * np.sin(t)
    fragment = replace(
        body,
        row=body.row + dr,
        col=body.col + dc,
        length_m=20.0,
        corners=tuple((x + dc, y + dr) for x, y in np.array(body.corners) * 0.2 + 0.8 * np.array([body.col, body.row])),
    )
    fused = fuse_polarisations(a, [body, fragment], PX)
    assert len(fused) == 1
    assert fused[0].length_m == pytest.approx((a[0].length_m + body.length_m) / 2)
    assert (fused[0].row, fused[0].col) == (body.row, body.col)
    # Two cross-polarised ships, each also pairing with a co-polarised detection of its own: kept.
    other = replace(a[0], row=a[0].row + 1.5 * dr, col=a[0].col + 1.5 * dc, corners=tuple((x + 1.5 * dc, y + 1.5 * dr) for x, y in a[0].corners))
    assert len(fuse_polarisations([a[0], other], [body, fragment], PX)) >= 2

def test_channels_of_different_shapes_are_refused() -> None:
    with pytest.raises(InputError, match="differ in shape"):
        detect_sar_dual(np.ones((10, 10), np.float32), np.ones((10, 11), np.float32), PX)


def test_the_pipeline_reads_two_unnamed_bands_as_a_pair_as_detect_image_does(tmp_path: Path) -> None:
    """An OpenSARShip GRD chip (two bands, no descriptions) was detected by `sitewatch detect` in
    its first band alone (159 x 5 m for a 181 x 28 m ship that detect-image measured 191 x 27 m);
    a ship faint in that band was lost."""
    from affine import Affine
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
    from sitewatch.workspace import init_workspace

    site = tiny_site(half_deg=0.004)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    co, cross = _pair(np.random.default_rng(3), 3.0, 20.0)
    crs, x0, y0 = site_utm_origin(site, margin_m=150.0)
    x0, y0 = 10 * round(x0 / 10), 10 * round(y0 / 10)  # on the site's grid: no resampling in between
    tif = write_tiff(
        tmp_path / "chip.tif", np.stack([co, cross]), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
        tags={"SITEWATCH_ACQUIRED": "2016-01-31T10:17:00Z"},
    )  # fmt: skip
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(tmp_path / "d.geojson"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["vessels"] == 1
    for args in (["ingest", site.id, str(tif), "--sensor", "sar"], ["detect", site.id]):
        r = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
        assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(site.id)
        assert len(store.detections(observation_id=obs.id)) == 1
