"""Distance by sea over the 1 km land mask (analysis/sea_route.py) and its fallback in links."""

from __future__ import annotations

import sys

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


def test_a_point_inland_has_no_sea_route() -> None:
    sea = sea_distance(*RAJIN, 131.957, 43.805)  # Ussuriysk
    assert sea.km is None and sea.method == "route"
    assert sea.no_route == "the second point (131.957, 43.805) is more than 5 km from the sea on the 1 km land mask"


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
        if p.name == "Suez Canal":
            continue
        lon, lat = np.array(p.points).T
        near = [water_at(lon + dx, lat + dy) for dx in (-1 / 120, 0, 1 / 120) for dy in (-1 / 120, 0, 1 / 120)]
        assert np.any(near, axis=0).all(), p.name


def test_a_fallback_distance_is_labelled_in_the_json_and_the_text() -> None:
    from jinja2 import Environment

    from sitewatch.analysis.links import links_to_dict
    from test_links import rason_to_dunai

    found = rason_to_dunai(sea_route=False)
    (k,) = links_to_dict(found)["links"]
    assert k["distance_by"] == "great circle" and k["distance_text"].startswith("great circle × 1.2: ")
    assert "(great circle × 1.2)" in found.links[0].summary_line()
    assert Environment().from_string("{{ k.distance_by_text() }}").render(k=found.links[0]) == "great circle × 1.2"
