"""Fuzz a claims file (YAML) as `sitewatch claims check` reads it: its form, then against the workspace's sites."""

from __future__ import annotations

import atheris
from _harness import as_file, run, yaml_modes

with atheris.instrument_imports(include=["sitewatch", "yaml"]):
    from shapely.geometry import LineString, box

    from sitewatch.claims_file import check_against_sites, read_claims
    from sitewatch.model import Berth, Site

SITES = {
    "busan": Site(id="busan", name="Busan", kind="port", geometry=box(129.0, 35.0, 129.1, 35.1),
                  berths=(Berth(id="b1", geometry=LineString([(129.01, 35.01), (129.02, 35.02)])),)),
    "ulsan": Site(id="ulsan", name="Ulsan", kind="port", geometry=box(129.3, 35.4, 129.4, 35.5)),
}
SEEDS = [
    b"title: t\nclaims:\n  - id: c1\n    text: a carrier was at Busan\n    source: {who: press, where: web, when: 2024-01-02}\n"
    b"    sites: [busan]\n    date: 2024-01-01\n    assert:\n      kind: vessel_present\n      berth: b1\n"
    b"      min_length_m: 200\n      max_length_m: 340\n      class: tanker\n",
    b"- id: c2\n  text: sailed\n  source: x\n  sites: [busan, ulsan]\n  from: 2024-01-01\n  to: 2024-02-01\n"
    b"  assert:\n    - kind: vessel_transit\n      within_days: 3\n    - kind: object_present\n      site: busan\n"
    b"      object: crane\n      state: extended\n      date: 2024-01-05\n",
    b"- id: c3\n  text: dug\n  source: y\n  sites: busan\n  date: 2024-03-03\n  assert: {kind: presence_days, days: 2,"
    b" tolerance: 1, berth: [any]}\n",
]


SEEDS, BODY = yaml_modes(SEEDS)


def read(data: bytes) -> None:
    """The first byte: odd, a seed with values of other types swapped in; even, YAML as it is (:func:`yaml_modes`)."""
    check_against_sites(read_claims(as_file(BODY(data), "claims.yaml")), SITES)


if __name__ == "__main__":
    run(read, SEEDS)
