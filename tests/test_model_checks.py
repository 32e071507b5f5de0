"""The nouns check themselves (``model.py``): a detection, change, link or claim that cannot be is refused as it is
made, naming what is wrong, not stored and found out later by a report, an export or a reader of the GeoPackage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from shapely.geometry import Polygon, box

from sitewatch.errors import InputError
from sitewatch.model import CLAIM_VERDICTS, Change, Claim, Detection, Link

SHIP = Detection("dunai/s1#0", "dunai/s1", "vessel", box(132.33, 42.87, 132.34, 42.871), 113.0, 15.6, 30.0, 0.9, "test", "1")
REGION = Change("c1", "dunai", "dunai/a", "dunai/b", box(132.33, 42.87, 132.34, 42.871), 800.0, 4.2, "appeared", "irmad-cva", "6")
LINK = Link("rason/a#0", "dunai/b#3", 50.0, 182.0, 0.8, True)
CLAIM = Claim("c", "a landing ship at the pier", "news", datetime(2024, 10, 17, tzinfo=UTC), datetime(2024, 10, 20, tzinfo=UTC), ("dunai",))


@pytest.mark.parametrize(
    ("change", "words"),
    [({"length_m": -5.0}, "length_m must be a finite number of metres"), ({"width_m": float("nan")}, "width_m must be a finite"),
     ({"heading_deg": float("inf")}, "heading_deg must be finite"), ({"score": float("nan")}, "score must be finite"),
     ({"kind": ""}, "no kind")],
)  # fmt: skip
def test_a_detection_that_cannot_be_is_refused(change: dict[str, object], words: str) -> None:
    with pytest.raises(InputError, match=words):
        replace(SHIP, **change)


def test_a_change_link_or_claim_that_cannot_be_is_refused() -> None:
    with pytest.raises(InputError, match="direction 'sideways' is not one of appeared, disappeared, altered"):
        replace(REGION, direction="sideways")
    with pytest.raises(InputError, match="area_m2 must be"):
        replace(REGION, area_m2=-1.0)
    with pytest.raises(InputError, match="no polygon"):
        replace(REGION, polygon=Polygon())
    with pytest.raises(InputError, match="hours_apart must be finite and at least 0"):
        replace(LINK, hours_apart=-3.0)
    with pytest.raises(InputError, match="similarity must be"):
        replace(LINK, similarity=float("nan"))
    with pytest.raises(InputError, match="verdict 'bogus' is not one of"):
        replace(CLAIM, verdict="bogus")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"ends \(2024-01-01\) before it starts \(2025-01-01\)"):
        replace(CLAIM, start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 1, tzinfo=UTC))


def test_what_can_be_is_made() -> None:
    assert replace(SHIP, length_m=0.0, score=1.7, heading_deg=180.0).length_m == 0.0  # stored by other versions: kept
    assert [replace(CLAIM, verdict=v).verdict for v in CLAIM_VERDICTS] == ["supported", "contradicted", "not testable", "open"]
    assert replace(LINK, hours_apart=0.0, feasible=False).hours_apart == 0.0
