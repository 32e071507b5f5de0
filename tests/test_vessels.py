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
    classes_named,
    closest_class,
    is_ambiguous,
    length_sigma_m,
)

ROPUCHA = "Ropucha (Project 775/775M) landing ship"
ALLIGATOR = "Alligator/Tapir (Project 1171) landing ship"
COASTER = "small coaster / general cargo"
CARGO = [COASTER, "Handysize-Supramax bulk carrier", "container feeder", "Panamax bulk carrier"]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        # as the press writes them: each was refused as naming no class, with no hint
        ("large landing ship", [ROPUCHA, ALLIGATOR]),
        ("landing ship tank (LST)", [ROPUCHA, ALLIGATOR]),
        ("LST", [ROPUCHA, ALLIGATOR]),
        ("general cargo ship", [COASTER]),
        ("cargo vessel", CARGO),  # the category: every cargo class, not only the one with "cargo" in its name
        ("container ship", ["container feeder"]),
        ("fishing boat", ["fishing trawler"]),
        ("bulk carriers", ["Handysize-Supramax bulk carrier", "Panamax bulk carrier"]),
        ("Ropucha-class landing ship", [ROPUCHA]),
        ("Project 775", [ROPUCHA]),
        # the word "class" before the name, as some reporters write it: refused as naming no class
        ("Class Ropucha", [ROPUCHA]),
        ("class Alligator", [ALLIGATOR]),
        ("the Class Ropucha landing ship", [ROPUCHA]),
        ("(Class Ropucha)", [ROPUCHA]),  # in brackets, as a list of sightings writes it: refused as naming none
        ("Ropucha (class)", [ROPUCHA]),
        ("Class landing ship", [ROPUCHA, ALLIGATOR]),  # still both, as "landing ship" is
        ("Class", []),  # the word alone names none
        ("subclass Ropucha", []),  # nor a word of which "class" is only the end
        # a class's series as articles number them: each was refused as naming no class ("ii" no word of its name)
        ("Ropucha II", [ROPUCHA]),
        ("Ropucha-I class landing ship", [ROPUCHA]),
        ("Alligator IV", [ALLIGATOR]),
        ("II", []),  # a series names no class alone
        ("Ropucha IV", []),  # nor one the class never had
        # a short word no longer fits a class by being part of a word of its name ("a" fitted all nine, "car" the
        # coaster and both bulk carriers), and a word that only narrows a name names nothing alone
        ("a", []),
        ("car", []),
        ("ship", []),
        ("small", []),
        ("tank", []),  # nor the product tanker
        ("large cargo ship", []),
    ],
)
def test_classes_named_reads_what_writers_call_a_class(written: str, meant: list[str]) -> None:
    assert classes_named(written) == meant


@pytest.mark.parametrize("name", [c.name for c in catalogue()])
def test_every_catalogue_name_reads_back_to_its_own_class(name: str) -> None:
    """Each row's own name, in any case, with or without "class" after it, names that class and no other."""
    for written in (name, name.casefold(), name.upper(), f"{name}-class", f"{name} class", f"{name.upper()}-CLASS"):
        assert classes_named(written) == [name], written
        assert closest_class(written) == name, written


@pytest.mark.parametrize("dash", ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015"])
def test_class_after_a_typographic_dash_is_read_as_after_a_hyphen(dash: str) -> None:
    # an article's "Alligator\u2013class" (en dash) was refused as naming no class: "class" was read as a word of the name
    assert classes_named(f"Alligator{dash}class landing ship") == [ALLIGATOR]
    assert classes_named(f"Ropucha{dash}class") == [ROPUCHA]
    assert classes_named(f"Project 1171{dash}class") == [ALLIGATOR]


@pytest.mark.parametrize(
    ("written", "hint"),
    [("Aligator", ALLIGATOR), ("Aligator vessel", ALLIGATOR), ("oil tanker", "product tanker (MR)"),
     ("small", COASTER), ("tank", None), ("large cargo ship", None)],
)  # fmt: skip
def test_closest_class_hints_at_the_one_class_a_refused_name_is_near(written: str, hint: str | None) -> None:
    assert closest_class(written) == hint


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


def test_catalogue_reads_each_column_into_its_field() -> None:
    # The published sizes the module docstring quotes.
    alligator = next(c for c in catalogue() if c.name == ALLIGATOR)
    assert (alligator.length_min_m, alligator.length_max_m, alligator.width_min_m, alligator.width_max_m) == (112.8, 113.1, 15.3, 15.6)
    assert alligator.category == "naval"


def test_a_class_with_a_size_range_the_wrong_way_round_is_refused() -> None:
    from sitewatch.vessels import VesselClass

    with pytest.raises(InputError, match="'x'"):
        VesselClass("x", "cargo", 120.0, 100.0, 15.0, 16.0, "test")
    with pytest.raises(InputError):
        VesselClass("x", "cargo", 100.0, 120.0, 0.0, 16.0, "test")


def test_the_error_model_is_the_documented_one() -> None:
    from sitewatch.vessels import width_sigma_m

    # sqrt(base**2 + (0.8 * resolution)**2), base 3 m for length and 2 m for width.
    assert length_sigma_m(10.0) == pytest.approx(math.hypot(3.0, 8.0))
    assert width_sigma_m(10.0) == pytest.approx(math.hypot(2.0, 8.0))
    assert length_sigma_m(0.0) == pytest.approx(3.0) and width_sigma_m(0.0) == pytest.approx(2.0)


def test_length_and_width_given_the_wrong_way_round_give_the_same_candidates() -> None:
    assert class_candidates(15.3, 113.0, 10.0) == class_candidates(113.0, 15.3, 10.0)
    with pytest.raises(InputError, match="positive"):
        class_candidates(100.0, 0.0, 10.0)


def test_a_size_no_model_explains_is_other_not_a_division_by_zero() -> None:
    assert [(c.name, c.likelihood) for c in class_candidates(5000.0, 800.0, 0.5)] == [(OTHER_CLASS, 1.0)]


def test_equally_likely_classes_are_listed_by_name() -> None:
    from sitewatch.vessels import VesselClass

    twins = [VesselClass(n, "naval", 100.0, 110.0, 14.0, 16.0, "test") for n in ("b-class", "a-class")]
    names = [c.name for c in class_candidates(105.0, 15.0, 3.0, classes=twins)]
    assert names[:2] == ["a-class", "b-class"]


def test_ambiguity_looks_at_the_two_likeliest_whatever_their_order() -> None:
    from sitewatch.model import ClassCandidate

    assert not is_ambiguous([ClassCandidate("a", 1.0)])
    assert not is_ambiguous([ClassCandidate("c", 0.05), ClassCandidate("a", 0.7), ClassCandidate("b", 0.25)])
    assert is_ambiguous([ClassCandidate("c", 0.1), ClassCandidate("a", 0.5), ClassCandidate("b", 0.4)])
