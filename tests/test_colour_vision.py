"""Colour vision deficiency simulation and the outline palette's distances under it."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.errors import InputError
from sitewatch.report.colour_vision import MACHADO_2009, VISIONS, closest_pair, hex_rgb, simulate


def test_greys_look_the_same_to_every_dichromat() -> None:
    # Each of Machado's rows sums to 1: a neutral colour is seen as itself.
    greys = ["#000000", "#777777", "#ffffff"]
    normal = simulate(greys, "normal")
    for vision in MACHADO_2009:
        assert np.allclose(simulate(greys, vision), normal, atol=0.05), vision


def test_red_and_green_merge_for_a_deuteranope_and_not_for_a_tritanope() -> None:
    pair = {"red": "#ff3b30", "green": "#34c759"}
    assert closest_pair(pair, "normal")[0] > 60
    assert closest_pair(pair, "deuteranopia")[0] < 10  # the old vessel and truck: one colour to many readers
    assert closest_pair(pair, "tritanopia")[0] > 40


def test_greyscale_keeps_lightness_alone() -> None:
    lab = simulate(["#d55e00", "#56b4e9"], "greyscale")
    assert np.allclose(lab[:, 1:], 0) and lab[0, 0] < lab[1, 0]
    assert closest_pair({"a": "#ff0000", "b": "#ff0000"}, "greyscale") == (0.0, "a", "b")


@pytest.mark.parametrize("bad", ["red", "#ff00", "#gg0000", "ff0000 ", "#ff00001"])
def test_a_colour_not_written_rrggbb_is_named(bad: str) -> None:
    with pytest.raises(InputError, match="is not #rrggbb") as err:
        hex_rgb(bad)
    assert repr(bad) in str(err.value)


def test_an_unknown_vision_or_a_single_colour_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="unknown vision 'achromatopsia'.*protanopia"):
        simulate(["#ffffff"], "achromatopsia")
    with pytest.raises(InputError, match="need two colours or more"):
        closest_pair({"vessel": "#ffffff"}, "normal")
    assert VISIONS == ("normal", "protanopia", "deuteranopia", "tritanopia", "greyscale")
