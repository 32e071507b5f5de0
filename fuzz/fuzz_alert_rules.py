"""Fuzz an alert rules file (YAML) as `sitewatch alerts check --rules FILE` reads it, against two sites."""

from __future__ import annotations

import atheris
from _harness import as_file, run, yaml_modes

with atheris.instrument_imports(include=["sitewatch", "yaml"]):
    from shapely.geometry import LineString, box

    from sitewatch.alert_rules import read_rules_file
    from sitewatch.model import Berth, Site

SITES = [
    Site(id="busan", name="Busan", kind="port", geometry=box(129.0, 35.0, 129.1, 35.1),
         berths=(Berth(id="b1", geometry=LineString([(129.01, 35.01), (129.02, 35.02)])),)),
    Site(id="ulsan", name="Ulsan", kind="port", geometry=box(129.3, 35.4, 129.4, 35.5)),
]
SEEDS = [
    b"rules:\n  - id: big-arrival\n    kind: arrival\n    sites: [busan]\n    berth: b1\n    min_length_m: 100\n"
    b"    max_length_m: 300.5\n    vessel_class: tanker\n    description: a tanker\n",
    b"rules:\n  - id: cranes\n    kind: object\n    sites: busan\n    object_kind: crane\n    min_count: 2\n"
    b"  - id: crowd\n    kind: vessel_count\n    sites: [ulsan]\n    above: 5\n"
    b"  - id: dig\n    kind: change\n    sites: [busan]\n    min_area_m2: 500\n    direction: appeared\n",
    b"rules:\n  - {id: l1, kind: link, sites: [busan, ulsan], feasible_only: true, min_length_m: 50}\n"
    b"  - &d {id: '7', kind: departure, sites: [busan]}\n",
]


SEEDS, BODY = yaml_modes(SEEDS)


def read(data: bytes) -> None:
    """The first byte: odd, a seed with values of other types swapped in; even, YAML as it is (:func:`yaml_modes`)."""
    read_rules_file(as_file(BODY(data), "alerts.yaml"), SITES)


if __name__ == "__main__":
    run(read, SEEDS)
