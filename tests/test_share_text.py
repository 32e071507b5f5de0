"""A share left out reads alike wherever it is said (:func:`sitewatch.units.share_text`): ``change``'s note on a
pair whose cloud was found by its shadow said "0% of the site" of a cloud it had just measured, where
``change-image`` said "under 1%"."""

from __future__ import annotations

import pytest

from sitewatch.change_stage import _cloud_note
from sitewatch.units import share_text
from test_claims import obs


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.0, "0%"), (0.0001, "under 1%"), (0.0049, "under 1%"), (0.005, "under 1%"), (0.0051, "1%"), (0.2, "20%"), (1.0, "100%"),
     # below all, said as all: a site under cloud but for a corner read "100%" left out, yet a part was compared
     (0.995, "over 99%"), (0.9999, "over 99%"), (0.994, "99%"), (float("nan"), "an unknown share")],
)
def test_a_share_above_none_is_never_said_as_none(share: float, text: str) -> None:
    # 0.005 itself formats as "0%" (half to even): the share was compared with 0.005, not its text.
    assert share_text(share) == text


def test_change_notes_a_small_share_left_out_as_change_image_does() -> None:
    before, after = obs("2024-10-01", sensor="optical"), obs("2024-10-05", sensor="optical")
    left = {"test": "shadow twins", "clouds": 1, "cloud_m2": 160_000.0, "shadow_m2": 150_000.0, "left_out_fraction": 0.0031, "refused": 0}
    (note,) = _cloud_note(before, after, {"cloud_left_out": left})
    assert "160,000 m² of cloud" in note and "not compared (under 1% of the site)" in note, note
    (note,) = _cloud_note(before, after, {"cloud_left_out": left | {"left_out_fraction": 0.25}})
    assert "not compared (25% of the site)" in note, note


def test_change_notes_its_clouds_and_bright_patches_in_agreement() -> None:
    # "1 cloud(s) found by their shadow", "1 bright patch(es) ... are compared", where the summaries were singular.
    before, after = obs("2024-10-01", sensor="optical"), obs("2024-10-05", sensor="optical")
    left = {"test": "shadow twins", "clouds": 1, "cloud_m2": 900.0, "shadow_m2": 800.0, "left_out_fraction": 0.2, "refused": 1}
    (note,) = _cloud_note(before, after, {"cloud_left_out": left})
    assert "; 1 cloud found by its shadow (" in note and "; 1 bright patch new on one date without a shadow twin is compared" in note, note
    (note,) = _cloud_note(before, after, {"cloud_left_out": left | {"clouds": 2, "refused": 2}})
    assert "; 2 clouds found by their shadow (" in note and "; 2 bright patches new on one date without a shadow twin are compared" in note, note
