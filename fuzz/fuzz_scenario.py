"""Fuzz a scenario file as `sitewatch simulate SCENARIO` reads it: YAML as it is (the input's first byte even),
or the packaged seed story with values of other types and sizes swapped in (odd)."""

from __future__ import annotations

from importlib.resources import files

import atheris
import yaml
from _harness import as_file, mutated_json, run

with atheris.instrument_imports(include=["sitewatch"]):
    from sitewatch.sources.scenario import load_scenario
    from sitewatch.yaml_input import StrictYamlLoader

STORY = files("sitewatch").joinpath("data/scenarios/seed-story.yaml").read_bytes()
DOCS = [yaml.load(STORY, Loader=StrictYamlLoader)]
SEEDS = [b"\x00" + STORY, b"\x01" + bytes(64)]


def read(data: bytes) -> None:
    body = mutated_json(data[1:], DOCS) if data[:1] and data[0] % 2 else data[1:]
    load_scenario(as_file(body, "scenario.yaml"))


if __name__ == "__main__":
    run(read, SEEDS)
