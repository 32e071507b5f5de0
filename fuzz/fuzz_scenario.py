"""Fuzz a scenario file as `sitewatch simulate SCENARIO` reads it: YAML as it is (the input's first byte even),
or the packaged seed story with values of other types and sizes swapped in (odd)."""

from __future__ import annotations

from importlib.resources import files

import atheris
from _harness import as_file, run, yaml_modes

with atheris.instrument_imports(include=["sitewatch"]):
    from sitewatch.sources.scenario import load_scenario

STORY = files("sitewatch").joinpath("data/scenarios/seed-story.yaml").read_bytes()
SEEDS, BODY = yaml_modes([STORY])


def read(data: bytes) -> None:
    load_scenario(as_file(BODY(data), "scenario.yaml"))


if __name__ == "__main__":
    run(read, SEEDS)
