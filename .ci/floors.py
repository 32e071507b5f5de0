"""Print `name==floor` for each dependency to which pyproject.toml gives a lower bound, one a line, for pip.

The oldest versions pyproject admits, read from pyproject itself, so the floors are kept in one place.
Runtime dependencies and every extra; a requirement without a `>=` bound (types-PyYAML) is left to pip, and
`--without NAME` leaves one out (`.ci/run` leaves out atheris, a 60 MB wheel no test imports, and
schemathesis, whose rich>=13.9.4 is above the runtime floor of rich; its test then skips). README, Development:

    python .ci/floors.py --without atheris --without schemathesis > floors.txt && pip install -r floors.txt
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)\s*$")
"""`name[extras]>=version` and nothing more: a requirement with a second bound or a marker is left to pip."""


def floors(pyproject: Path, without: frozenset[str] = frozenset()) -> list[str]:
    """`name[extras]==floor` for each requirement of pyproject's dependencies and extras that has one."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = _FLOOR.match(requirement)
        if match is None:
            continue
        name, extras, version = match.groups()
        key = re.sub(r"[-_.]+", "-", name).lower()
        pin = f"{name}{extras or ''}=={version}"
        if key in pins and pins[key].split("==")[1] != version:
            # Two floors of one name: pinned to the lower, the other requirement could not be installed.
            raise SystemExit(f"{pyproject}: two floors of {name}: {pins[key]} and {pin}; give it one")
        if key not in without:
            pins.setdefault(key, pin)
    return list(pins.values())


def main() -> None:
    """Print the pins of a pyproject.toml (default: this repository's)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent / "pyproject.toml")
    parser.add_argument("--without", action="append", default=[], metavar="NAME", help="leave this one out")
    args = parser.parse_args()
    print("\n".join(floors(args.pyproject, frozenset(n.lower() for n in args.without))))


if __name__ == "__main__":
    main()
