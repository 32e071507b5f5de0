"""Distance by sea over the 1 km land mask (analysis/sea_route.py) and its fallback in links."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sitewatch.analysis import sea_route
from sitewatch.analysis.links import great_circle_km
from sitewatch.analysis.sea_route import PASSAGES, land_mask_file, sea_distance, water_at

pytestmark = pytest.mark.skipif(land_mask_file() is None, reason="the land mask: pip install global-land-mask")

RAJIN, DUNAI = (130.300, 42.233), (132.338, 42.880)
NAMPO, VLADIVOSTOK = (125.380, 38.730), (131.883, 43.117)


def test_the_package_is_never_imported() -> None:
    # Its __init__ decompresses the whole 21600 x 43200 mask (about 1 GB).
    sea_distance(*RAJIN, *DUNAI)
    assert sea_route.MASK_PACKAGE not in sys.modules


def test_the_mask_says_where_the_sea_is() -> None:
    lon = np.array([135.0, 131.957, 130.300, 29.06])  # Sea of Japan, Ussuriysk (inland), Rajin's harbour, Bosporus
    lat = np.array([40.0, 43.805, 42.233, 41.12])
    assert water_at(lon, lat).tolist() == [True, False, True, False]  # the Bosporus is a pixel wide: not at this point


def test_rajin_dunai_is_near_the_coastal_track_drawn_by_hand() -> None:
    sea = sea_distance(*RAJIN, *DUNAI)
    assert sea.method == "route" and sea.cell_km == 1.0 and sea.no_route is None
    assert sea.km is not None and 185 < sea.km < 210  # hand-drawn: 200 km; great circle 182 km
    assert sea.km > great_circle_km(*RAJIN, *DUNAI)


def test_land_between_makes_the_route_longer_than_the_great_circle_by_the_right_order() -> None:
    # Nampo (Yellow Sea) to Vladivostok (Sea of Japan): around the Korean peninsula through the Korea Strait.
    sea = sea_distance(*NAMPO, *VLADIVOSTOK)
    gc = great_circle_km(*NAMPO, *VLADIVOSTOK)
    assert sea.method == "route" and sea.km is not None
    assert 2.0 * gc < sea.km < 2.8 * gc


def test_a_point_far_inland_has_no_sea_route() -> None:
    sea = sea_distance(*RAJIN, 126.63, 45.75)  # Harbin, 500 km from the sea
    assert sea.km is None and sea.method == "route"
    assert sea.no_route == "the second point (126.630, 45.750) is more than 100 km from the sea on the 1 km land mask"


def test_a_port_up_a_river_starts_with_a_straight_leg_to_the_sea() -> None:
    """Rostov-on-Don lies 36 km up the Don, which the mask lacks: it was called inland (no link); its route
    now starts with a straight leg to the Sea of Azov, through the Kerch Strait to Novorossiysk."""
    rostov, novorossiysk = (39.71, 47.22), (37.79, 44.72)
    sea = sea_distance(*rostov, *novorossiysk)
    assert sea.method == "route" and sea.km is not None and 30 < sea.legs_km[0] < 40 and sea.legs_km[1] < 5
    assert 1.4 * great_circle_km(*rostov, *novorossiysk) < sea.km < 600  # around Crimea's east end, not over land
    assert sea_distance(*rostov, *novorossiysk, reach_km=20).no_route is not None


def test_without_the_mask_the_caller_is_told_to_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sea_route, "land_mask_file", lambda: None)
    sea = sea_distance(*RAJIN, *DUNAI)
    assert (sea.km, sea.method) == (None, "great circle") and "pip install global-land-mask" in sea.text


def test_links_without_the_mask_use_the_great_circle_and_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_links import rason_to_dunai

    monkeypatch.setattr(sea_route, "land_mask_file", lambda: None)
    (link,) = rason_to_dunai().links
    assert link.distance_by == "great circle"
    assert link.distance_text == "great circle × 1.2: the land mask is not installed (pip install global-land-mask)"


def test_the_same_inputs_give_the_same_distance() -> None:
    assert sea_distance(*RAJIN, *DUNAI) == sea_distance(*RAJIN, *DUNAI)


# Open water either side of each passage: (lon, lat) pairs.
STRAITS = {
    "Bosporus": ((29.13, 41.23), (28.99, 41.00)),
    "Dardanelles": ((26.75, 40.45), (26.15, 40.00)),
    "Suez Canal": ((32.32, 31.40), (32.54, 29.85)),
    "Danish straits (Kattegat to the Baltic)": ((11.5, 57.0), (13.8, 54.8)),
    "Kerch Strait": ((36.8, 45.6), (36.5, 44.9)),
    "Strait of Gibraltar": ((-6.0, 36.0), (-5.2, 36.0)),
    "Korea Strait": ((129.3, 35.0), (128.5, 33.5)),
    "Kanmon Strait": ((130.85, 33.955), (131.0, 33.975)),  # Hibiki-nada to Suo-nada
    "Kiel Canal": ((9.10, 53.88), (10.20, 54.41)),  # the Elbe off Brunsbüttel to the Kiel Fjord
}


@pytest.mark.parametrize("name", sorted(STRAITS))
def test_ships_pass_the_straits(name: str) -> None:
    a, b = STRAITS[name]
    sea = sea_distance(*a, *b, max_area_km=1000)
    gc = great_circle_km(*a, *b)
    assert sea.method == "route" and sea.km is not None and gc <= sea.km < 1.6 * gc, sea


def test_the_suez_canal_is_closed_in_the_mask_and_opened_by_its_centre_line() -> None:
    a, b = STRAITS["Suez Canal"]
    shut = sea_distance(*a, *b, max_area_km=1000, passages=())
    assert shut.km is None and shut.method == "great circle" and "no route over water" in shut.text
    canal = sea_distance(*a, *b)
    assert canal.km is not None and 170 < canal.km < 215  # 193 km Port Said - Port Tewfik with the access channels


def test_the_bosporus_stays_open_at_a_coarse_cell() -> None:
    a, b = STRAITS["Bosporus"]
    sea = sea_distance(*a, *b, cell_km=3.0, max_area_km=1000)
    assert sea.method == "route" and sea.km is not None and sea.km < 1.6 * great_circle_km(*a, *b)
    shut = sea_distance(*a, *b, cell_km=3.0, max_area_km=1000, passages=())
    assert shut.km is None or shut.km > 1.6 * great_circle_km(*a, *b)


def test_passage_points_in_the_mask_channels_are_water() -> None:
    # The Bosporus and Dardanelles centre-lines are read off the mask's own channel: each point within 1 px of water.
    for p in PASSAGES:
        if p.name not in ("Bosporus", "Dardanelles", "Strait of Messina"):
            continue
        lon, lat = np.array(p.points).T
        near = [water_at(lon + dx, lat + dy) for dx in (-1 / 120, 0, 1 / 120) for dy in (-1 / 120, 0, 1 / 120)]
        assert np.any(near, axis=0).all(), p.name


def test_closed_passages_run_from_the_masks_water_to_its_water() -> None:
    # The Kanmon Strait and the Kiel Canal are land in the mask where they are closed; their ends (and the Kanmon
    # points read off the mask either side of the closed Oseto) are its water, so the line joins two seas.
    read_off_the_mask = {"Kanmon Strait": [0, 1, 2, 5], "Kiel Canal": [0, 6], "Corinth Canal": [0, 3], "East River": [0, 3, 9, 10],
                         "Cape Cod Canal": [0, 6], "Chesapeake and Delaware Canal": [0, 6], "Beagle Channel": [0, 2, 5, 8],
                         "Ballenero and O'Brien channels": [0, 3, 4, 6]}
    for p in PASSAGES:
        if p.name in read_off_the_mask:
            lon, lat = np.array(p.points)[read_off_the_mask[p.name]].T
            assert water_at(lon, lat).all(), p.name


@pytest.mark.parametrize("name", ["Kanmon Strait", "Kiel Canal"])
def test_a_strait_or_canal_the_mask_closes_is_opened_by_its_centre_line(name: str) -> None:
    """Closed in the mask, the Kanmon Strait routed Kure - Wakamatsu around Kyushu (891 km for NGA Pub. 151's
    125 nm) and the Kiel Canal routed Bremerhaven - Kiel around Jutland (946 km for 129 nm)."""
    a, b = STRAITS[name]
    shut = sea_distance(*a, *b, max_area_km=1000, passages=[p for p in PASSAGES if p.name != name])
    assert shut.km is None or shut.km > 5 * great_circle_km(*a, *b)
    coarse = sea_distance(*a, *b, cell_km=3.0, max_area_km=1000)  # a far pair's cell: still open
    assert coarse.km is not None and coarse.km < 1.6 * great_circle_km(*a, *b)


def test_a_fallback_distance_is_labelled_in_the_json_and_the_text() -> None:
    from jinja2 import Environment

    from sitewatch.analysis.links import links_to_dict
    from test_links import rason_to_dunai

    found = rason_to_dunai(sea_route=False)
    (k,) = links_to_dict(found)["links"]
    assert k["distance_by"] == "great circle" and k["distance_text"].startswith("great circle × 1.2: ")
    assert "(great circle × 1.2)" in found.links[0].summary_line()
    assert Environment().from_string("{{ k.distance_by_text() }}").render(k=found.links[0]) == "great circle × 1.2"


def test_points_farther_apart_than_the_largest_area_fall_back_and_are_not_called_inland() -> None:
    # Outside the square a point found no water near it: Rajin was "more than 5 km from the sea".
    sea = sea_distance(*RAJIN, *DUNAI, max_area_km=100)
    assert (sea.km, sea.method, sea.no_route) == (None, "great circle", None)
    assert sea.text == "the points are 182 km apart, too far for the largest area searched (100 km square)"


def test_the_same_point_is_no_distance_and_a_route_is_never_shorter_than_the_great_circle() -> None:
    assert sea_distance(*RAJIN, *RAJIN).km == 0.0  # was 1.4 km: there and back to the water cell's centre
    for a, b in ((RAJIN, DUNAI), (NAMPO, VLADIVOSTOK), ((179.5, 62.0), (-179.5, 62.5)), (RAJIN, (130.33, 42.25))):
        sea = sea_distance(*a, *b)
        assert sea.km is not None and sea.km >= round(great_circle_km(*a, *b), 1), (a, b, sea)


@pytest.mark.parametrize("bad", [(float("nan"), 42.0), (float("inf"), 42.0), (130.0, 91.0)])
def test_coordinates_that_are_no_place_are_refused(bad: tuple[float, float]) -> None:
    from sitewatch.errors import InputError

    with pytest.raises(InputError, match="sea_distance: l.._a must be a finite"):  # was pyproj's CRSError
        sea_distance(*bad, *DUNAI)
    with pytest.raises(InputError, match="max_area_km must be a positive number of km, got 0"):
        sea_distance(*RAJIN, *DUNAI, max_area_km=0)


def _npz(path: Path, header_shape: tuple[int, int], data: bytes) -> Path:
    import io
    import zipfile

    from numpy.lib import format as npy_format

    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": "|b1", "fortran_order": False, "shape": header_shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mask.npy", buf.getvalue() + data)
    return path


def test_a_damaged_mask_is_named_with_what_to_do_and_the_caller_falls_back(tmp_path: Path) -> None:
    from sitewatch.errors import LandMaskError

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(land_mask_file().read_bytes()[:100_000])  # type: ignore[union-attr]
    short = _npz(tmp_path / "short.npz", (21600, 43200), b"\x01" * 1000)  # the mask ends early
    wrong = _npz(tmp_path / "wrong.npz", (10, 10), b"\x01" * 100)
    for path, why in ((truncated, "File is not a zip file"), (short, "the mask ends early"),
                      (wrong, "not the 21600 × 43200 boolean land mask expected"), (tmp_path / "gone.npz", "No such file")):  # fmt: skip
        with pytest.raises(LandMaskError, match=why) as err:
            water_at(np.array([135.0]), np.array([40.0]), path)
        assert str(err.value).startswith(f"{path}: the land mask cannot be read (")
        assert str(err.value).endswith("reinstall it: pip install --force-reinstall global-land-mask")
        sea = sea_distance(*RAJIN, *DUNAI, mask=path)  # was a traceback: zipfile.BadZipFile
        assert (sea.km, sea.method, sea.text) == (None, "great circle", str(err.value))


# Port pairs whose route the mask closed (or a coarse cell closes), each with the passage that opens it: (A, B,
# cell km, the route's most km, the least km without that passage). Before the passages were added: Piraeus -
# Patras 533 km (round the Peloponnese), New Haven - New York 314 (round Montauk), Boston - Newport 272 (round Cape
# Cod), Baltimore - Wilmington (Delaware) 587 (round Cape Charles and Cape May), Punta Arenas - Ushuaia 625 (out
# of the Strait of Magellan's Atlantic mouth, in by the Le Maire Strait; 517 with the Beagle Channel alone: out
# to sea round the islands), Napoli - Iraklion at 2.8 km cells 1,601 (round Sicily). Ports placed to about 1 km.
PASSAGE_PAIRS = {
    "Corinth Canal": ((23.63, 37.94), (21.73, 38.25), 1.0, 210, 450),  # Piraeus - Patras
    "East River": ((-72.92, 41.30), (-74.01, 40.70), 1.0, 135, 250),  # New Haven - New York (the Battery)
    "Cape Cod Canal": ((-71.05, 42.36), (-71.33, 41.49), 1.0, 200, 240),  # Boston - Newport
    "Chesapeake and Delaware Canal": ((-76.58, 39.27), (-75.51, 39.72), 1.0, 150, 450),  # Baltimore - Wilmington
    "Beagle Channel": ((-70.90, -53.16), (-68.30, -54.81), 1.0, 500, 580),  # Punta Arenas - Ushuaia
    "Ballenero and O'Brien channels": ((-70.90, -53.16), (-68.30, -54.81), 1.0, 500, 505),
    "Strait of Messina": ((14.27, 40.84), (25.13, 35.34), 2.8, 1350, 1500),  # Napoli - Iraklion at a far pair's cell
}


@pytest.mark.parametrize("name", sorted(PASSAGE_PAIRS))
def test_a_port_pair_through_each_passage_routes_through_it(name: str) -> None:
    a, b, cell, at_most, shut_at_least = PASSAGE_PAIRS[name]
    sea = sea_distance(*a, *b, cell_km=cell)
    assert sea.method == "route" and sea.km is not None and great_circle_km(*a, *b) <= sea.km <= at_most, sea
    shut = sea_distance(*a, *b, cell_km=cell, passages=[p for p in PASSAGES if p.name != name])
    assert shut.km is None or shut.km >= shut_at_least, shut


def test_routes_in_one_band_of_latitude_inflate_the_mask_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``links`` over ten sites near 43° N routed 45 pairs, each inflating the mask from the pole down to its rows
    (240 MB, 0.7 s of CPU a pair: 32 s of the run); now the rows are kept and the second pair reads none."""
    import zipfile

    monkeypatch.setattr(sea_route, "_mask_rows", getattr(sea_route, "_MaskRows", object)(), raising=False)
    opened: list[object] = []
    real = zipfile.ZipFile

    def counting(*args: object, **kwargs: object) -> zipfile.ZipFile:
        opened.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile, "ZipFile", counting)
    first = sea_distance(130.3001, 42.2331, 132.3381, 42.8801)  # points no other test routes (the routes are kept too)
    second = sea_distance(130.3002, 42.2332, 132.3382, 42.8802)
    assert first.km is not None and second.km is not None and abs(first.km - second.km) < 1
    assert len(opened) == 1


def test_mask_cells_from_the_rows_kept_are_those_read_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sea_route, "_mask_rows", sea_route._MaskRows())
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(-180, 180, 20_000), rng.uniform(40.0, 44.0, 20_000)
    fresh = water_at(lon, lat)
    assert len(sea_route._mask_rows.chunks) == 8  # rows 5,520-6,000: chunks 86-93, each kept
    kept = water_at(lon, lat)
    assert 0.3 < fresh.mean() < 0.7 and (kept == fresh).all()

