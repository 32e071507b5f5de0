"""`.ci/floors.py`, which prints pyproject.toml's floors as pins for the check of the oldest versions (README,
Development): every requirement with a floor gets its pin, and one it cannot read is not passed over unsaid."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _floors_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_floors", ROOT / ".ci" / "floors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_requirement_of_pyproject_with_a_floor_is_pinned_to_it() -> None:
    """A requirement the script's pattern did not read (a second bound, a marker) would be left to pip, which
    installs the newest: the check would pass without testing that floor. Only those without a floor may be."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = _floors_module().floors(ROOT / "pyproject.toml")
    pinned = {pin.split("==")[0].split("[")[0].lower() for pin in pins}
    for requirement in requirements:
        name = requirement.split(">=")[0].split("[")[0].strip().lower()
        if ">=" in requirement:
            assert name in pinned, f"{requirement!r} has a floor the script does not pin"
        else:
            assert name in {"sitewatch", "types-pyyaml"}, f"{requirement!r}: no floor, so the check cannot test one"
    assert "numpy==1.26" in pins and "dask[distributed]==2024.1" in pins


def test_a_second_bound_is_left_out_and_without_drops_a_name(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["numpy>=1.26", "scipy>=1.11,<2", "rich"]\n'
        '[project.optional-dependencies]\ndev = ["Py_Yaml>=6", "numpy[extra]>=1.26"]\n',
        encoding="utf-8",
    )
    floors = _floors_module().floors
    # Names compare as pip's do; a name's floor given twice alike is pinned once.
    assert floors(pyproject) == ["numpy==1.26", "Py_Yaml==6"]
    assert floors(pyproject, frozenset({"py-yaml"})) == ["numpy==1.26"]


def test_two_floors_of_one_name_are_refused_naming_both(tmp_path: Path) -> None:
    """Pinned to one of them, the requirement with the other could not be installed beside it."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["click>=8.1"]\n[project.optional-dependencies]\ndev = ["click>=8.2"]\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"two floors of click: click==8.1 and click==8.2"):
        _floors_module().floors(pyproject)
