"""Vessel class candidates: honest about resolution."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitewatch.errors import InputError
from sitewatch.vessels import (
    OTHER_CLASS,
    catalogue,
    class_candidates,
    is_ambiguous,
    length_sigma_m,
)

ROPUCHA = "Ropucha (Project 775/775M) landing ship"
ALLIGATOR = "Alligator/Tapir (Project 1171) landing ship"


def test_catalogue_has_the_story_classes_with_sources() -> None:
    names = {c.name for c in catalogue()}
    assert {ROPUCHA, ALLIGATOR, "small coaster / general cargo", "Handysize-Supramax bulk carrier"} <= names
    assert all(c.source for c in catalogue())


def test_landing_ships_are_about_even_at_10m() -> None:
    cands = {c.name: c.likelihood for c in class_candidates(113.0, 15.3, 10.0)}
    assert set(list(cands)[:2]) == {ROPUCHA, ALLIGATOR}
    assert cands[ROPUCHA] == pytest.approx(cands[ALLIGATOR], rel=0.2)
    assert is_ambiguous(class_candidates(113.0, 15.3, 10.0))


def test_coaster_and_bulk_are_told_apart() -> None:
    assert class_candidates(90.0, 14.0, 10.0)[0].name == "small coaster / general cargo"
    top = class_candidates(190.0, 31.0, 3.0)[0].name
    assert top in {"Handysize-Supramax bulk carrier", "product tanker (MR)"}


def test_unlike_every_class_is_other() -> None:
    assert class_candidates(320.0, 55.0, 10.0)[0].name == OTHER_CLASS


def test_a_size_that_fits_a_class_loosely_is_not_called_that_class() -> None:
    """HRSID P0094's 68 x 16 m ship: at the edge of the trawler range, it is most likely a vessel not listed."""
    cands = {c.name: c.likelihood for c in class_candidates(68.0, 16.0, 10.0)}
    assert next(iter(cands)) == OTHER_CLASS and cands["fishing trawler"] < 0.5


def test_other_is_a_fleet_of_plausible_shapes_not_a_flat_box() -> None:
    """A 100 m hull 60 m wide is no vessel's shape, a 100 x 16 m one is: "other" weighs them differently."""
    from sitewatch.vessels import _other_density

    assert _other_density(100.0, 16.0, 3.0, 2.0) > 20 * _other_density(100.0, 60.0, 3.0, 2.0)
    # log-uniform in length: a 30 m vessel is more likely than a 300 m one, per metre
    assert _other_density(30.0, 6.0, 3.0, 2.0) > _other_density(300.0, 60.0, 3.0, 2.0)


def test_error_grows_with_pixel_size() -> None:
    assert length_sigma_m(10) > length_sigma_m(3) > length_sigma_m(0.5)


def test_bad_input_is_named() -> None:
    with pytest.raises(InputError):
        class_candidates(100, 10, 0)
    with pytest.raises(InputError):
        class_candidates(-1, 10, 10)


@given(
    st.floats(10, 400), st.floats(3, 60), st.sampled_from([0.5, 3.0, 10.0, 20.0])
)
def test_likelihoods_are_probabilities_sorted(length: float, width: float, res: float) -> None:
    cands = class_candidates(length, width, res)
    assert cands
    ps = [c.likelihood for c in cands]
    assert all(0 < p <= 1 for p in ps)
    assert sum(ps) <= 1.0 + 1e-3
    assert ps == sorted(ps, reverse=True)
    assert all(math.isfinite(p) for p in ps)
